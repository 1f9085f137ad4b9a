//! Helpers for the stack's small tables of `Copy` entries (routes, neighbours).

/// Keeps, in order, the entries `keep` says to keep and returns how many there are: the
/// caller truncates its table to that. It does what `retain_mut` does in a fraction of the
/// code: the library's version guards against a predicate that panics and entries that
/// need dropping, which `Copy` entries and the kernel's aborting panic do not need
/// (heapless's `retain_mut` took 800 B of Thumb-2 for its six uses here).
pub(crate) fn retain<T: Copy>(entries: &mut [T], mut keep: impl FnMut(&mut T) -> bool) -> usize {
    let mut kept = 0;
    for i in 0..entries.len() {
        let mut entry = entries[i];
        if keep(&mut entry) {
            // kept <= i: always there, but the compiler cannot tell, and a check without
            // a panic path is the smaller code.
            if let Some(slot) = entries.get_mut(kept) {
                *slot = entry;
            }
            kept += 1;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::retain;

    #[test]
    fn keeps_the_chosen_entries_in_order_with_their_changes() {
        let mut v = [1, 2, 3, 4, 5, 6];
        let n = retain(&mut v, |x| {
            *x *= 10;
            *x % 20 != 0
        });
        assert_eq!(&v[..n], &[10, 30, 50]);
        assert_eq!(retain(&mut v[..0], |_| true), 0);
    }
}
