//! Disclosure control for published tables of counts: primary suppression of small counts, and
//! complementary suppression so that a withheld count cannot be worked out by subtraction.
//!
//! Statistical agencies withhold a count below a threshold (primary suppression). That alone
//! is not enough: when a row's total is published and every other count in it is shown, the
//! withheld one is the total minus the rest. So, as those agencies do, a second cell is
//! withheld in any row or column that would otherwise have exactly one withheld cell
//! (complementary suppression), choosing the smallest shown count, and the check is repeated
//! until every row and column with a published total has no withheld cell or at least two.
//!
//! A withheld value is [`Disclosed::Withheld`], which carries no number: whatever is drawn
//! from it (a table cell, a chart's bar, a CSV field) has nothing to show.

/// A published value, or withheld.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Disclosed<T> {
    /// Published.
    Shown(T),
    /// Too few to publish; the value is not kept.
    Withheld,
}

impl<T> Disclosed<T> {
    /// `Shown(value)` unless `withheld`.
    pub fn unless(withheld: bool, value: T) -> Disclosed<T> {
        if withheld {
            Disclosed::Withheld
        } else {
            Disclosed::Shown(value)
        }
    }

    /// The value, if shown.
    pub fn shown(&self) -> Option<&T> {
        match self {
            Disclosed::Shown(v) => Some(v),
            Disclosed::Withheld => None,
        }
    }

    /// True when withheld.
    pub fn is_withheld(&self) -> bool {
        matches!(self, Disclosed::Withheld)
    }

    /// Maps a shown value; a withheld one stays withheld.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Disclosed<U> {
        match self {
            Disclosed::Shown(v) => Disclosed::Shown(f(v)),
            Disclosed::Withheld => Disclosed::Withheld,
        }
    }

    /// The value, if shown.
    pub fn into_option(self) -> Option<T> {
        match self {
            Disclosed::Shown(v) => Some(v),
            Disclosed::Withheld => None,
        }
    }
}

/// A count that primary suppression withholds: more than zero and below the threshold. An
/// empty cell describes nobody, so zero is shown.
pub fn is_small(n: u64, threshold: u64) -> bool {
    n > 0 && n < threshold
}

/// A table of counts (row-major) and which of its line totals are published, or can be
/// worked out from what is published.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    /// The counts, row by row.
    pub counts: &'a [u64],
    /// Columns per row.
    pub cols: usize,
    /// Per row: its total is known to the reader.
    pub row_totals: &'a [bool],
    /// Per column: its total is known to the reader.
    pub col_totals: &'a [bool],
}

impl<'a> Table<'a> {
    /// One column of counts whose total is (or is not) known: the usual published list.
    pub fn column(counts: &'a [u64], total_known: &'a [bool; 1]) -> Table<'a> {
        Table {
            counts,
            cols: 1,
            row_totals: &[],
            col_totals: total_known,
        }
    }

    /// Rows in the table.
    pub fn rows(&self) -> usize {
        self.counts.len().checked_div(self.cols).unwrap_or(0)
    }
}

/// What to withhold in a table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withheld {
    /// Per cell (row-major): withheld.
    pub cells: Vec<bool>,
    /// Rows whose published total must be withheld too: the row's only withheld cell had no
    /// other cell to hide it (a line of one cell).
    pub row_totals: Vec<bool>,
    /// Columns whose published total must be withheld too.
    pub col_totals: Vec<bool>,
}

impl Withheld {
    /// Cells withheld.
    pub fn count(&self) -> usize {
        self.cells.iter().filter(|w| **w).count()
    }
}

/// Primary suppression (counts above zero and below `threshold`) and complementary
/// suppression.
pub fn suppress(table: &Table<'_>, threshold: u64) -> Withheld {
    let primary = table
        .counts
        .iter()
        .map(|n| is_small(*n, threshold))
        .collect();
    complete(table, primary)
}

/// Complementary suppression from cells already withheld (by [`is_small`] or by a caller's
/// own rule, such as a whole group withheld): repeats until no row or column with a known
/// total has exactly one withheld cell. Each complement is the smallest shown count above
/// zero in that line (the first such one on a tie), else its smallest shown count; a line with
/// no other cell gets its total withheld instead. Flags past the table's end are ignored and
/// missing ones count as shown.
pub fn complete(table: &Table<'_>, mut withheld: Vec<bool>) -> Withheld {
    let cols = table.cols;
    let rows = table.rows();
    withheld.resize(rows * cols, false);
    let mut out = Withheld {
        cells: withheld,
        row_totals: vec![false; rows],
        col_totals: vec![false; cols],
    };
    // A line is its cells' indexes; lines are rows then columns.
    let lines: Vec<(bool, usize)> = (0..rows)
        .map(|r| (true, r))
        .chain((0..cols).map(|c| (false, c)))
        .collect();
    let cells_of = |(is_row, i): (bool, usize)| -> Vec<usize> {
        if is_row {
            (0..cols).map(|c| i * cols + c).collect()
        } else {
            (0..rows).map(|r| r * cols + i).collect()
        }
    };
    loop {
        let mut changed = false;
        for &(is_row, i) in &lines {
            let known = if is_row {
                table.row_totals.get(i).copied().unwrap_or(false) && !out.row_totals[i]
            } else {
                table.col_totals.get(i).copied().unwrap_or(false) && !out.col_totals[i]
            };
            if !known {
                continue;
            }
            let cells = cells_of((is_row, i));
            if cells.iter().filter(|k| out.cells[**k]).count() != 1 {
                continue;
            }
            let shown = cells.iter().copied().filter(|k| !out.cells[*k]);
            let complement = shown
                .clone()
                .filter(|k| table.counts[*k] > 0)
                .min_by_key(|k| table.counts[*k])
                .or_else(|| shown.min_by_key(|k| table.counts[*k]));
            match complement {
                Some(k) => out.cells[k] = true,
                None if is_row => out.row_totals[i] = true,
                None => out.col_totals[i] = true,
            }
            changed = true;
        }
        if !changed {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lone_small_count_takes_the_next_smallest_with_it() {
        // 12, 3, 7, 9 with a published total: 3 is small; alone it would be total − 21.
        let counts = [12, 3, 7, 9];
        let w = suppress(&Table::column(&counts, &[true]), 5);
        assert_eq!(w.cells, [false, true, true, false]);
        // Without a published total, only the small one.
        let w = suppress(&Table::column(&counts, &[false]), 5);
        assert_eq!(w.cells, [false, true, false, false]);
    }

    #[test]
    fn zeros_are_shown_and_skipped_as_complements() {
        let counts = [0, 4, 20, 30];
        let w = suppress(&Table::column(&counts, &[true]), 10);
        assert_eq!(w.cells, [false, true, true, false]);
    }

    #[test]
    fn a_line_of_one_cell_withholds_its_total() {
        let w = suppress(&Table::column(&[3], &[true]), 5);
        assert_eq!((w.cells, w.col_totals), (vec![true], vec![true]));
    }

    #[test]
    fn two_way_tables_are_protected_in_both_directions() {
        // 2×3, every total known. (0,0) = 2 is small: row 0 takes (0,1) = 6; then columns 0
        // and 1 each have one withheld, and take (1,0) and (1,1).
        let counts = [2, 6, 20, 30, 40, 50];
        let w = suppress(
            &Table {
                counts: &counts,
                cols: 3,
                row_totals: &[true, true],
                col_totals: &[true, true, true],
            },
            5,
        );
        assert_eq!(w.cells, [true, true, false, true, true, false]);
    }
}
