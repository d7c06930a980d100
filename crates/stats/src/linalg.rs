//! A small dense matrix and the Cholesky factorisation of symmetric
//! positive-definite matrices.
//!
//! Only what the GLM and spline code need: products, transposes, weighted
//! cross-products XᵀWX, and solving / inverting SPD systems. Matrices in this
//! crate are small (tens of columns), so clarity wins over blocking or SIMD.

use std::fmt;
use std::ops::{Index, IndexMut};

/// Errors from matrix construction and factorisation.
#[derive(Debug, Clone, PartialEq)]
pub enum LinalgError {
    /// The data length does not equal rows * cols, or rows have unequal
    /// lengths.
    Shape {
        /// What the shape should have been, in words.
        expected: String,
        /// What was given, in words.
        found: String,
    },
    /// An operation needed a square matrix.
    NotSquare {
        /// Rows of the matrix given.
        rows: usize,
        /// Columns of the matrix given.
        cols: usize,
    },
    /// The matrix is not symmetric (beyond rounding).
    NotSymmetric {
        /// Row of the first offending entry.
        row: usize,
        /// Column of the first offending entry.
        col: usize,
    },
    /// The matrix is not (numerically) positive definite: the Cholesky
    /// pivot for this column was not positive, or fell below the relative
    /// tolerance, i.e. the column is (nearly) a combination of earlier ones.
    NotPositiveDefinite {
        /// Zero-based column where factorisation broke down.
        column: usize,
    },
    /// An entry is NaN or infinite.
    NotFinite,
}

impl fmt::Display for LinalgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinalgError::Shape { expected, found } => {
                write!(
                    f,
                    "matrix shape mismatch: expected {expected}, found {found}"
                )
            }
            LinalgError::NotSquare { rows, cols } => {
                write!(f, "matrix must be square, but is {rows}x{cols}")
            }
            LinalgError::NotSymmetric { row, col } => {
                write!(f, "matrix is not symmetric at ({row}, {col})")
            }
            LinalgError::NotPositiveDefinite { column } => write!(
                f,
                "matrix is not positive definite (Cholesky pivot {column} is not positive)"
            ),
            LinalgError::NotFinite => write!(f, "matrix has a NaN or infinite entry"),
        }
    }
}

impl std::error::Error for LinalgError {}

/// A dense matrix of `f64`, stored row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// Builds a matrix from row-major `data` of length `rows * cols`.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self, LinalgError> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(LinalgError::Shape {
                expected: format!("{rows}x{cols} = {} entries", rows.saturating_mul(cols)),
                found: format!("{} entries", data.len()),
            });
        }
        Ok(Matrix { rows, cols, data })
    }

    /// Builds a matrix from a slice of rows, all of the same length.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self, LinalgError> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(LinalgError::Shape {
                    expected: format!("{cols} columns in every row"),
                    found: format!("{} columns in row {i}", r.len()),
                });
            }
            data.extend_from_slice(r);
        }
        Ok(Matrix {
            rows: rows.len(),
            cols,
            data,
        })
    }

    /// Builds a matrix whose columns are the given slices, all of the same
    /// length (convenient for design matrices).
    pub fn from_columns<C: AsRef<[f64]>>(columns: &[C]) -> Result<Self, LinalgError> {
        let rows = columns.first().map_or(0, |c| c.as_ref().len());
        let cols = columns.len();
        let mut m = Matrix::zeros(rows, cols);
        for (j, c) in columns.iter().enumerate() {
            let c = c.as_ref();
            if c.len() != rows {
                return Err(LinalgError::Shape {
                    expected: format!("{rows} rows in every column"),
                    found: format!("{} rows in column {j}", c.len()),
                });
            }
            for (i, &v) in c.iter().enumerate() {
                m.data[i * cols + j] = v;
            }
        }
        Ok(m)
    }

    /// A `rows` x `cols` matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The `n` x `n` identity matrix.
    pub fn identity(n: usize) -> Self {
        let mut m = Matrix::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The entry at (`row`, `col`), or `None` if out of range.
    pub fn get(&self, row: usize, col: usize) -> Option<f64> {
        if row < self.rows && col < self.cols {
            Some(self.data[row * self.cols + col])
        } else {
            None
        }
    }

    /// Row `i` as a slice, or `None` if out of range.
    pub fn row(&self, i: usize) -> Option<&[f64]> {
        if i < self.rows {
            Some(&self.data[i * self.cols..(i + 1) * self.cols])
        } else {
            None
        }
    }

    /// Column `j` copied into a vector, or `None` if out of range.
    pub fn column(&self, j: usize) -> Option<Vec<f64>> {
        if j < self.cols {
            Some(
                (0..self.rows)
                    .map(|i| self.data[i * self.cols + j])
                    .collect(),
            )
        } else {
            None
        }
    }

    /// All entries, row-major.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// True if every entry is finite.
    pub fn is_finite(&self) -> bool {
        self.data.iter().all(|v| v.is_finite())
    }

    /// The transpose.
    pub fn transpose(&self) -> Matrix {
        let mut t = Matrix::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                t.data[j * self.rows + i] = self.data[i * self.cols + j];
            }
        }
        t
    }

    /// The product `self * other`.
    pub fn matmul(&self, other: &Matrix) -> Result<Matrix, LinalgError> {
        if self.cols != other.rows {
            return Err(LinalgError::Shape {
                expected: format!("{} rows on the right", self.cols),
                found: format!("{} rows", other.rows),
            });
        }
        let mut out = Matrix::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            for k in 0..self.cols {
                let a = self.data[i * self.cols + k];
                if a == 0.0 {
                    continue;
                }
                let orow = &other.data[k * other.cols..(k + 1) * other.cols];
                let out_row = &mut out.data[i * other.cols..(i + 1) * other.cols];
                for (o, &b) in out_row.iter_mut().zip(orow) {
                    *o += a * b;
                }
            }
        }
        Ok(out)
    }

    /// The matrix-vector product `self * v`.
    pub fn mul_vec(&self, v: &[f64]) -> Result<Vec<f64>, LinalgError> {
        if v.len() != self.cols {
            return Err(LinalgError::Shape {
                expected: format!("vector of length {}", self.cols),
                found: format!("length {}", v.len()),
            });
        }
        Ok((0..self.rows)
            .map(|i| {
                self.data[i * self.cols..(i + 1) * self.cols]
                    .iter()
                    .zip(v)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect())
    }

    /// The weighted cross-product XᵀWX (W diagonal, one weight per row),
    /// which is symmetric by construction.
    pub fn weighted_gram(&self, weights: &[f64]) -> Result<Matrix, LinalgError> {
        if weights.len() != self.rows {
            return Err(LinalgError::Shape {
                expected: format!("{} weights", self.rows),
                found: format!("{} weights", weights.len()),
            });
        }
        let p = self.cols;
        let mut g = Matrix::zeros(p, p);
        for (i, &w) in weights.iter().enumerate() {
            if w == 0.0 {
                continue;
            }
            let row = &self.data[i * p..(i + 1) * p];
            for a in 0..p {
                let wa = w * row[a];
                for (g_ab, &x_b) in g.data[a * p..=a * p + a].iter_mut().zip(row) {
                    *g_ab += wa * x_b;
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                g.data[b * p + a] = g.data[a * p + b];
            }
        }
        Ok(g)
    }

    /// Xᵀ W v (W diagonal), the right-hand side of weighted least squares.
    pub fn weighted_transpose_mul_vec(
        &self,
        weights: &[f64],
        v: &[f64],
    ) -> Result<Vec<f64>, LinalgError> {
        if weights.len() != self.rows || v.len() != self.rows {
            return Err(LinalgError::Shape {
                expected: format!("{} weights and values", self.rows),
                found: format!("{} weights, {} values", weights.len(), v.len()),
            });
        }
        let p = self.cols;
        let mut out = vec![0.0; p];
        for i in 0..self.rows {
            let wv = weights[i] * v[i];
            if wv == 0.0 {
                continue;
            }
            for (o, &x) in out.iter_mut().zip(&self.data[i * p..(i + 1) * p]) {
                *o += x * wv;
            }
        }
        Ok(out)
    }
}

impl Index<(usize, usize)> for Matrix {
    type Output = f64;

    /// Panics if out of range, like slice indexing; use [`Matrix::get`] for
    /// a checked read.
    fn index(&self, (i, j): (usize, usize)) -> &f64 {
        assert!(i < self.rows && j < self.cols, "matrix index out of range");
        &self.data[i * self.cols + j]
    }
}

impl IndexMut<(usize, usize)> for Matrix {
    fn index_mut(&mut self, (i, j): (usize, usize)) -> &mut f64 {
        assert!(i < self.rows && j < self.cols, "matrix index out of range");
        &mut self.data[i * self.cols + j]
    }
}

/// Default relative pivot tolerance of [`Cholesky::new`]: a pivot no larger
/// than this fraction of its original diagonal entry means the column is a
/// linear combination of the earlier ones up to rounding.
pub const DEFAULT_PIVOT_TOLERANCE: f64 = 1e-14;

/// Cholesky factorisation A = L Lᵀ of a symmetric positive-definite matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Cholesky {
    l: Matrix,
}

impl Cholesky {
    /// Factorises `a`, which must be square, finite, symmetric (to a
    /// relative 1e-10) and positive definite (with the
    /// [`DEFAULT_PIVOT_TOLERANCE`]).
    pub fn new(a: &Matrix) -> Result<Self, LinalgError> {
        Cholesky::with_tolerance(a, DEFAULT_PIVOT_TOLERANCE)
    }

    /// Like [`Cholesky::new`] but declares the matrix not positive definite
    /// when a pivot is `<= tolerance * a_jj`. The ratio pivot / a_jj
    /// is 1 - R² of column j regressed on the earlier columns (in the metric
    /// of `a`), so `tolerance` is a collinearity threshold.
    pub fn with_tolerance(a: &Matrix, tolerance: f64) -> Result<Self, LinalgError> {
        let n = a.rows;
        if a.cols != n {
            return Err(LinalgError::NotSquare {
                rows: a.rows,
                cols: a.cols,
            });
        }
        if !a.is_finite() {
            return Err(LinalgError::NotFinite);
        }
        for i in 0..n {
            for j in 0..i {
                let (x, y) = (a.data[i * n + j], a.data[j * n + i]);
                let scale = (a.data[i * n + i].abs() * a.data[j * n + j].abs()).sqrt();
                if (x - y).abs() > 1e-10 * scale.max(x.abs()).max(y.abs()) {
                    return Err(LinalgError::NotSymmetric { row: i, col: j });
                }
            }
        }
        let mut l = Matrix::zeros(n, n);
        for j in 0..n {
            let mut d = a.data[j * n + j];
            for k in 0..j {
                d -= l.data[j * n + k] * l.data[j * n + k];
            }
            // Written so that a NaN pivot is rejected too.
            if d.is_nan() || d <= 0.0 || d <= tolerance * a.data[j * n + j] {
                return Err(LinalgError::NotPositiveDefinite { column: j });
            }
            let djj = d.sqrt();
            l.data[j * n + j] = djj;
            for i in (j + 1)..n {
                let mut s = a.data[i * n + j];
                for k in 0..j {
                    s -= l.data[i * n + k] * l.data[j * n + k];
                }
                l.data[i * n + j] = s / djj;
            }
        }
        Ok(Cholesky { l })
    }

    /// The lower-triangular factor L.
    pub fn lower(&self) -> &Matrix {
        &self.l
    }

    /// Dimension of the factorised matrix.
    pub fn dim(&self) -> usize {
        self.l.rows
    }

    /// Solves A x = b.
    pub fn solve(&self, b: &[f64]) -> Result<Vec<f64>, LinalgError> {
        let n = self.dim();
        if b.len() != n {
            return Err(LinalgError::Shape {
                expected: format!("right-hand side of length {n}"),
                found: format!("length {}", b.len()),
            });
        }
        let l = &self.l.data;
        // Forward substitution L y = b.
        let mut y = b.to_vec();
        for i in 0..n {
            let mut s = y[i];
            for k in 0..i {
                s -= l[i * n + k] * y[k];
            }
            y[i] = s / l[i * n + i];
        }
        // Back substitution Lᵀ x = y.
        for i in (0..n).rev() {
            let mut s = y[i];
            for k in (i + 1)..n {
                s -= l[k * n + i] * y[k];
            }
            y[i] = s / l[i * n + i];
        }
        Ok(y)
    }

    /// A⁻¹, computed as (L⁻¹)ᵀ L⁻¹ and symmetrised exactly.
    pub fn inverse(&self) -> Matrix {
        let n = self.dim();
        let l = &self.l.data;
        // Invert L (lower triangular) column by column.
        let mut linv = Matrix::zeros(n, n);
        for j in 0..n {
            linv.data[j * n + j] = 1.0 / l[j * n + j];
            for i in (j + 1)..n {
                let mut s = 0.0;
                for k in j..i {
                    s -= l[i * n + k] * linv.data[k * n + j];
                }
                linv.data[i * n + j] = s / l[i * n + i];
            }
        }
        // A⁻¹ = L⁻ᵀ L⁻¹: entry (i, j) = sum over k >= max(i, j) of
        // linv[k][i] * linv[k][j].
        let mut inv = Matrix::zeros(n, n);
        for i in 0..n {
            for j in 0..=i {
                let s: f64 = (i..n)
                    .map(|k| linv.data[k * n + i] * linv.data[k * n + j])
                    .sum();
                inv.data[i * n + j] = s;
                inv.data[j * n + i] = s;
            }
        }
        inv
    }

    /// ln det A = 2 Σ ln L_jj.
    pub fn ln_det(&self) -> f64 {
        let n = self.dim();
        (0..n).map(|j| self.l.data[j * n + j].ln()).sum::<f64>() * 2.0
    }
}

/// Solves A x = b for symmetric positive-definite A.
pub fn solve_spd(a: &Matrix, b: &[f64]) -> Result<Vec<f64>, LinalgError> {
    Cholesky::new(a)?.solve(b)
}

/// Inverts a symmetric positive-definite matrix.
pub fn inverse_spd(a: &Matrix) -> Result<Matrix, LinalgError> {
    Ok(Cholesky::new(a)?.inverse())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn hand_computed_cholesky() {
        // A = [[4, 12, -16], [12, 37, -43], [-16, -43, 98]]
        // has L = [[2, 0, 0], [6, 1, 0], [-8, 5, 3]] (a textbook example).
        let a = Matrix::from_rows(&[
            [4.0, 12.0, -16.0],
            [12.0, 37.0, -43.0],
            [-16.0, -43.0, 98.0],
        ])
        .unwrap();
        let c = Cholesky::new(&a).unwrap();
        let expected = [[2.0, 0.0, 0.0], [6.0, 1.0, 0.0], [-8.0, 5.0, 3.0]];
        for (i, row) in expected.iter().enumerate() {
            for (j, &e) in row.iter().enumerate() {
                assert!(close(c.lower()[(i, j)], e, 1e-14));
            }
        }
        // det A = (2*1*3)^2 = 36
        assert!(close(c.ln_det(), 36f64.ln(), 1e-14));
        // A x = b with x = (1, 2, 3): b = A x = (-20, -43, 192)
        let x = c.solve(&[-20.0, -43.0, 192.0]).unwrap();
        for (got, want) in x.iter().zip([1.0, 2.0, 3.0]) {
            assert!(close(*got, want, 1e-12), "{x:?}");
        }
        // Inverse by hand: cofactors C11 = 37*98 - 43*43 = 1777,
        // C12 = -(12*98 - 43*16) = -488, C13 = -12*43 + 37*16 = 76,
        // C22 = 4*98 - 16*16 = 136, C23 = -(-4*43 + 12*16) = -20,
        // C33 = 4*37 - 12*12 = 4; A^-1 = adj(A) / 36.
        let inv = c.inverse();
        let want = [
            [1777.0 / 36.0, -488.0 / 36.0, 76.0 / 36.0],
            [-488.0 / 36.0, 136.0 / 36.0, -20.0 / 36.0],
            [76.0 / 36.0, -20.0 / 36.0, 4.0 / 36.0],
        ];
        for (i, row) in want.iter().enumerate() {
            for (j, &w) in row.iter().enumerate() {
                assert!(close(inv[(i, j)], w, 1e-11), "{i},{j}: {}", inv[(i, j)]);
            }
        }
    }

    #[test]
    fn two_by_two_inverse() {
        // [[2, 1], [1, 2]]^-1 = [[2, -1], [-1, 2]] / 3
        let a = Matrix::from_rows(&[[2.0, 1.0], [1.0, 2.0]]).unwrap();
        let inv = inverse_spd(&a).unwrap();
        assert!(close(inv[(0, 0)], 2.0 / 3.0, 1e-15));
        assert!(close(inv[(0, 1)], -1.0 / 3.0, 1e-15));
        assert!(close(inv[(1, 1)], 2.0 / 3.0, 1e-15));
    }

    #[test]
    fn errors_instead_of_panics() {
        assert!(matches!(
            Matrix::new(2, 2, vec![1.0; 3]),
            Err(LinalgError::Shape { .. })
        ));
        assert!(matches!(
            Matrix::from_rows(&[vec![1.0, 2.0], vec![1.0]]),
            Err(LinalgError::Shape { .. })
        ));
        let rect = Matrix::zeros(2, 3);
        assert!(matches!(
            Cholesky::new(&rect),
            Err(LinalgError::NotSquare { .. })
        ));
        let asym = Matrix::from_rows(&[[2.0, 1.0], [0.0, 2.0]]).unwrap();
        assert!(matches!(
            Cholesky::new(&asym),
            Err(LinalgError::NotSymmetric { .. })
        ));
        let singular = Matrix::from_rows(&[[1.0, 2.0], [2.0, 4.0]]).unwrap();
        assert_eq!(
            Cholesky::new(&singular),
            Err(LinalgError::NotPositiveDefinite { column: 1 })
        );
        let indefinite = Matrix::from_rows(&[[1.0, 0.0], [0.0, -1.0]]).unwrap();
        assert!(Cholesky::new(&indefinite).is_err());
        let nan = Matrix::from_rows(&[[f64::NAN]]).unwrap();
        assert_eq!(Cholesky::new(&nan), Err(LinalgError::NotFinite));
        let c = Cholesky::new(&Matrix::identity(2)).unwrap();
        assert!(c.solve(&[1.0]).is_err());
        assert!(Matrix::identity(2).mul_vec(&[1.0]).is_err());
        assert!(Matrix::identity(2).matmul(&Matrix::zeros(3, 1)).is_err());
        assert_eq!(Matrix::identity(2).get(2, 0), None);
    }

    #[test]
    fn empty_matrix_is_fine() {
        let c = Cholesky::new(&Matrix::zeros(0, 0)).unwrap();
        assert_eq!(c.solve(&[]).unwrap(), Vec::<f64>::new());
        assert_eq!(c.inverse().rows(), 0);
    }

    #[test]
    fn gram_and_products() {
        let x = Matrix::from_columns(&[vec![1.0, 1.0, 1.0], vec![1.0, 2.0, 3.0]]).unwrap();
        let w = [1.0, 2.0, 0.5];
        let g = x.weighted_gram(&w).unwrap();
        // Σw = 3.5, Σwx = 1 + 4 + 1.5 = 6.5, Σwx² = 1 + 8 + 4.5 = 13.5
        assert_eq!(g.as_slice(), &[3.5, 6.5, 6.5, 13.5]);
        let xt = x.transpose();
        let direct = xt.matmul(&x).unwrap();
        assert_eq!(direct, x.weighted_gram(&[1.0; 3]).unwrap());
        let rhs = x.weighted_transpose_mul_vec(&w, &[1.0, 0.0, 2.0]).unwrap();
        assert_eq!(rhs, vec![2.0, 4.0]);
        assert_eq!(x.mul_vec(&[1.0, 1.0]).unwrap(), vec![2.0, 3.0, 4.0]);
        assert_eq!(x.column(1), Some(vec![1.0, 2.0, 3.0]));
        assert_eq!(x.row(2), Some(&[1.0, 3.0][..]));
    }
}
