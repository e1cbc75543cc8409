//! Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008): item factors for
//! the served model and the ALS baseline it is measured against, and the fold-in that gives a
//! user who was not in the fit (every request's user) their factor from what they touched.
//!
//! Every observed (user, item) pair is a preference of 1 with confidence `1 + alpha · w`
//! (`w` the pair's net positive weight); every other pair a preference of 0 with confidence 1.
//! Each half-step is the exact least-squares solution per row, through the usual identity
//! `YᵀC_uY = YᵀY + Yᵀ(C_u − I)Y`, so it costs the number of observations times k², not the
//! catalog size.

use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

/// ALS hyper-parameters.
#[derive(Clone, Debug, Serialize)]
pub struct AlsParams {
    /// Length of every factor.
    pub factors: usize,
    /// Ridge penalty on every factor.
    pub regularization: f64,
    /// Confidence gained per unit of observed weight.
    pub alpha: f64,
    /// Alternations (users, then items).
    pub iterations: usize,
    /// Seed of the initial factors.
    pub seed: u64,
}

impl Default for AlsParams {
    fn default() -> Self {
        AlsParams {
            factors: 32,
            regularization: 1.0,
            alpha: 10.0,
            iterations: 12,
            seed: 0x0a15,
        }
    }
}

/// Fitted item factors plus what a fold-in needs: the Gram matrix `YᵀY` of all item factors.
#[derive(Clone, Debug)]
pub struct ItemFactors {
    /// One row of `factors` per item; rows of items nobody touched are zero.
    pub rows: Vec<Vec<f32>>,
    gram: DMatrix<f64>,
    params: AlsParams,
}

/// Rows of observations: for each row, `(column, weight)` with weight > 0.
pub type Observations = Vec<Vec<(u32, f32)>>;

/// Fits user and item factors to `users` (each user's positive items with their weights) over
/// `n_items` items; returns `(user rows, item factors)`.
pub fn fit(
    n_items: usize,
    users: &Observations,
    params: &AlsParams,
) -> (Vec<Vec<f32>>, ItemFactors) {
    let k = params.factors;
    let mut rng = StdRng::seed_from_u64(params.seed);
    let scale = 0.1 / (k as f64).sqrt();
    let mut items: Vec<DVector<f64>> = (0..n_items)
        .map(|_| DVector::from_fn(k, |_, _| scale * (rng.random::<f64>() - 0.5)))
        .collect();
    let mut by_item: Observations = vec![Vec::new(); n_items];
    for (u, row) in users.iter().enumerate() {
        for &(i, w) in row {
            if let Some(list) = by_item.get_mut(i as usize) {
                list.push((u as u32, w));
            }
        }
    }
    // Items nobody touched keep zero factors: they carry no behaviour to score by.
    for (i, list) in by_item.iter().enumerate() {
        if list.is_empty() {
            items[i].fill(0.0);
        }
    }
    let mut user_rows: Vec<DVector<f64>> = vec![DVector::zeros(k); users.len()];
    for _ in 0..params.iterations.max(1) {
        user_rows = half_step(&items, users, params);
        items = half_step(&user_rows, &by_item, params);
    }
    let gram = gram(&items);
    let to_f32 = |v: &DVector<f64>| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    (
        user_rows.iter().map(to_f32).collect(),
        ItemFactors {
            rows: items.iter().map(to_f32).collect(),
            gram,
            params: params.clone(),
        },
    )
}

fn gram(rows: &[DVector<f64>]) -> DMatrix<f64> {
    let k = rows.first().map_or(0, |r| r.len());
    let mut g = DMatrix::zeros(k, k);
    for r in rows {
        g.ger(1.0, r, r, 1.0);
    }
    g
}

/// Solves every row of one side against the fixed factors of the other.
fn half_step(fixed: &[DVector<f64>], rows: &Observations, params: &AlsParams) -> Vec<DVector<f64>> {
    let g = gram(fixed);
    rows.iter()
        .map(|row| {
            solve(
                &g,
                row.iter()
                    .filter_map(|&(j, w)| Some((fixed.get(j as usize)?, f64::from(w)))),
                params,
            )
        })
        .collect()
}

/// `(G + Σ α w y yᵀ + λI)⁻¹ Σ (1 + α w) y`: one row's exact least-squares factor.
fn solve<'a>(
    gram: &DMatrix<f64>,
    observed: impl Iterator<Item = (&'a DVector<f64>, f64)>,
    params: &AlsParams,
) -> DVector<f64> {
    let k = gram.nrows();
    let mut a = gram.clone();
    let mut b = DVector::zeros(k);
    let mut any = false;
    for (y, w) in observed {
        if w <= 0.0 {
            continue;
        }
        any = true;
        a.ger(params.alpha * w, y, y, 1.0);
        b.axpy(1.0 + params.alpha * w, y, 1.0);
    }
    if !any {
        return DVector::zeros(k);
    }
    for d in 0..k {
        a[(d, d)] += params.regularization;
    }
    a.cholesky()
        .map(|c| c.solve(&b))
        .unwrap_or_else(|| DVector::zeros(k))
}

impl ItemFactors {
    /// Length of every factor.
    pub fn dims(&self) -> usize {
        self.gram.nrows()
    }

    /// The factor of a user who touched `items` with the given positive weights (a request's
    /// user, folded in against the fitted items exactly as a fitted user is solved). Zero when
    /// nothing positive is known.
    pub fn fold_in(&self, items: impl IntoIterator<Item = (u32, f64)>) -> Vec<f32> {
        let rows: Vec<(DVector<f64>, f64)> = items
            .into_iter()
            .filter_map(|(i, w)| {
                let row = self.rows.get(i as usize)?;
                Some((
                    DVector::from_iterator(row.len(), row.iter().map(|&x| f64::from(x))),
                    w,
                ))
            })
            .collect();
        solve(&self.gram, rows.iter().map(|(y, w)| (y, *w)), &self.params)
            .iter()
            .map(|&x| x as f32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::model::dot;

    #[test]
    fn factors_score_a_users_own_cluster_above_others() {
        // Two clusters of 10 items; users take 5 items of one cluster each.
        let users: Observations = (0..40u32)
            .map(|u| {
                let base = (u % 2) * 10;
                (0..5).map(|s| (base + (u / 2 + s) % 10, 1.0)).collect()
            })
            .collect();
        let params = AlsParams {
            factors: 4,
            ..AlsParams::default()
        };
        let (_, items) = fit(20, &users, &params);
        let u = items.fold_in([(0, 1.0), (1, 1.0), (2, 1.0)]);
        let inside: f32 = (3..10).map(|i| dot(&u, &items.rows[i])).sum::<f32>() / 7.0;
        let outside: f32 = (10..20).map(|i| dot(&u, &items.rows[i])).sum::<f32>() / 10.0;
        assert!(inside > outside + 0.3, "{inside} vs {outside}");
        assert!(items.fold_in([]).iter().all(|&x| x == 0.0));
    }
}
