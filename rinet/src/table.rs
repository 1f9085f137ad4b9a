//! Helpers for the stack's small tables of `Copy` entries (routes, neighbours).

use heapless::VecView;

/// Keeps, in order, the entries of `table` that `keep` says to keep. It does what
/// `retain_mut` does in a fraction of the code: the library's version guards against a predicate that panics and entries that
/// need dropping, which `Copy` entries and the kernel's aborting panic do not need
/// (heapless's `retain_mut` took 800 B of Thumb-2 for its six uses here).
pub(crate) fn retain<T: Copy>(table: &mut VecView<T>, mut keep: impl FnMut(&mut T) -> bool) {
    let entries: &mut [T] = table;
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
    table.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::retain;

    #[test]
    fn keeps_the_chosen_entries_in_order_with_their_changes() {
        let mut v = heapless::Vec::<u32, 8>::from_slice(&[1, 2, 3, 4, 5, 6]).unwrap();
        retain(v.as_mut_view(), |x| {
            *x *= 10;
            *x % 20 != 0
        });
        assert_eq!(&v[..], &[10, 30, 50]);
        let mut empty = heapless::Vec::<u32, 8>::new();
        retain(empty.as_mut_view(), |_| true);
        assert!(empty.is_empty());
    }
}
