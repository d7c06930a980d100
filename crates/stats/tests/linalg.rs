//! Properties of the Cholesky solve and inverse on random symmetric
//! positive-definite matrices (the hand-computed examples are unit tests in
//! `src/linalg.rs`).

use proptest::prelude::*;
use stats::linalg::{Cholesky, Matrix};

/// A = BᵀB + 0.5 I: symmetric positive definite with eigenvalues >= 0.5,
/// and entries of B in [-3, 3] keep the condition number moderate.
fn spd() -> impl Strategy<Value = Matrix> {
    (1usize..9).prop_flat_map(|n| {
        prop::collection::vec(-3.0f64..3.0, n * n).prop_map(move |b| {
            let b = Matrix::new(n, n, b).unwrap();
            let mut a = b.transpose().matmul(&b).unwrap();
            for i in 0..n {
                a[(i, i)] += 0.5;
            }
            a
        })
    })
}

proptest! {
    #[test]
    fn inverse_times_matrix_is_identity(a in spd()) {
        let n = a.rows();
        let c = Cholesky::new(&a).unwrap();
        let inv = c.inverse();
        for prod in [a.matmul(&inv).unwrap(), inv.matmul(&a).unwrap()] {
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j { 1.0 } else { 0.0 };
                    prop_assert!((prod[(i, j)] - want).abs() < 1e-9, "({i},{j}) = {}", prod[(i, j)]);
                }
            }
        }
        // The inverse is exactly symmetric.
        for i in 0..n {
            for j in 0..n {
                prop_assert_eq!(inv[(i, j)], inv[(j, i)]);
            }
        }
    }

    #[test]
    fn factor_reproduces_matrix_and_solve_solves(a in spd(), seed in prop::collection::vec(-10.0f64..10.0, 8)) {
        let n = a.rows();
        let c = Cholesky::new(&a).unwrap();
        let l = c.lower();
        let llt = l.matmul(&l.transpose()).unwrap();
        for i in 0..n {
            for j in 0..n {
                prop_assert!(j <= i || l[(i, j)] == 0.0);
                prop_assert!((llt[(i, j)] - a[(i, j)]).abs() < 1e-12 * (1.0 + a[(i, j)].abs()));
            }
        }
        let b = &seed[..n];
        let x = c.solve(b).unwrap();
        let ax = a.mul_vec(&x).unwrap();
        for (got, want) in ax.iter().zip(b) {
            prop_assert!((got - want).abs() < 1e-9, "{got} vs {want}");
        }
    }

    #[test]
    fn singular_matrices_are_rejected(v in prop::collection::vec(-3.0f64..3.0, 2..6)) {
        // vvᵀ has rank 1: not positive definite for n >= 2.
        prop_assume!(v.iter().any(|x| x.abs() > 0.1));
        let n = v.len();
        let mut a = Matrix::zeros(n, n);
        for i in 0..n {
            for j in 0..n {
                a[(i, j)] = v[i] * v[j];
            }
        }
        prop_assert!(Cholesky::new(&a).is_err());
    }
}
