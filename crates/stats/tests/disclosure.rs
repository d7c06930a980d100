//! Properties of small-cell suppression over random tables: every small count is withheld, no
//! line with a known total is left with a single withheld cell (so none can be recovered by
//! subtraction), nothing is withheld without a small count behind it, and the result is
//! stable (suppressing again withholds nothing more).

use proptest::prelude::*;
use stats::disclosure::{Table, complete, is_small, suppress};

/// A table: (rows, cols, counts, known row totals, known column totals, threshold). Counts
/// lean towards small values so that suppression has work to do.
fn table() -> impl Strategy<Value = (usize, usize, Vec<u64>, Vec<bool>, Vec<bool>, u64)> {
    (1usize..6, 1usize..6, 2u64..12).prop_flat_map(|(rows, cols, threshold)| {
        (
            Just(rows),
            Just(cols),
            proptest::collection::vec(prop_oneof![Just(0u64), 1u64..12, 12u64..200], rows * cols),
            proptest::collection::vec(any::<bool>(), rows),
            proptest::collection::vec(any::<bool>(), cols),
            Just(threshold),
        )
    })
}

fn line_cells(rows: usize, cols: usize, is_row: bool, i: usize) -> Vec<usize> {
    if is_row {
        (0..cols).map(|c| i * cols + c).collect()
    } else {
        (0..rows).map(|r| r * cols + i).collect()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn withheld_cells_cannot_be_recovered_by_subtraction(
        (rows, cols, counts, row_totals, col_totals, threshold) in table()
    ) {
        let t = Table { counts: &counts, cols, row_totals: &row_totals, col_totals: &col_totals };
        let w = suppress(&t, threshold);
        prop_assert_eq!(w.cells.len(), counts.len());
        for (k, n) in counts.iter().enumerate() {
            if is_small(*n, threshold) {
                prop_assert!(w.cells[k], "small count {} at {} shown", n, k);
            }
        }
        for (is_row, n, known, dropped) in [
            (true, rows, &row_totals, &w.row_totals),
            (false, cols, &col_totals, &w.col_totals),
        ] {
            for i in 0..n {
                let cells = line_cells(rows, cols, is_row, i);
                let hidden = cells.iter().filter(|k| w.cells[**k]).count();
                if known[i] && !dropped[i] {
                    prop_assert_ne!(hidden, 1, "line {} (row: {}) has one withheld cell", i, is_row);
                }
                if dropped[i] {
                    // A total is withheld only when its line had nothing else to withhold.
                    prop_assert!(known[i]);
                    prop_assert_eq!(hidden, cells.len());
                }
            }
        }
        // Nothing is withheld in a table without small counts.
        if !counts.iter().any(|n| is_small(*n, threshold)) {
            prop_assert_eq!(w.count(), 0);
        }
        // Stable: completing the result again changes nothing.
        let again = complete(&t, w.cells.clone());
        prop_assert_eq!(again.cells, w.cells);
    }

    #[test]
    fn one_column_needs_two_withheld_or_none(
        counts in proptest::collection::vec(prop_oneof![Just(0u64), 1u64..10, 10u64..500], 1..12),
        threshold in 2u64..11,
    ) {
        let w = suppress(&Table::column(&counts, &[true]), threshold);
        let hidden = w.count();
        prop_assert!(hidden != 1 || w.col_totals[0], "{:?} → {:?}", counts, w.cells);
        // Complementary suppression adds at most one cell per small count in a single list.
        let small = counts.iter().filter(|n| is_small(**n, threshold)).count();
        prop_assert!(hidden <= 2 * small);
        if small >= 2 {
            prop_assert_eq!(hidden, small, "two small counts already protect each other");
        }
    }
}
