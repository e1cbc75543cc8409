//! The strong baselines the served model is measured against, fitted in the same run on the
//! same training interactions: popularity (all time, and decayed like the served model's
//! prior), item-kNN, implicit ALS and EASE (Steck 2019). Each
//! scores every item for a user's training items, so the evaluation ranks the full catalog.

use nalgebra::DMatrix;
use serde::Serialize;

use super::als::{self, AlsParams, ItemFactors, Observations};
use super::model::{Cooccurrence, dot};

/// Hyper-parameters of the baselines (the values of the table).
#[derive(Clone, Debug, Serialize)]
pub struct BaselineParams {
    /// Neighbours kept per item by item-kNN.
    pub knn_neighbours: usize,
    /// Implicit ALS.
    pub als: AlsParams,
    /// EASE's ridge penalty λ.
    pub ease_lambda: f64,
}

impl Default for BaselineParams {
    fn default() -> Self {
        BaselineParams {
            knn_neighbours: 100,
            als: AlsParams::default(),
            ease_lambda: 100.0,
        }
    }
}

/// The fitted baselines.
pub struct Baselines {
    popularity: Vec<f32>,
    recent_popularity: Vec<f32>,
    knn: Vec<Vec<(u32, f32)>>,
    als_users: Vec<Vec<f32>>,
    als_items: ItemFactors,
    /// EASE's item–item weights, row-major: row `i` is what item `i` adds to every item.
    ease: Vec<f32>,
}

/// The baselines by name, in report order.
pub const NAMES: [&str; 5] = ["popularity", "recent_popularity", "item_knn", "als", "ease"];

impl Baselines {
    /// Fits them to `users` (each user's distinct positive training items, weight 1);
    /// `recent_popularity` is each item's time-decayed popularity, computed by the caller who
    /// knows the interactions' times.
    pub fn fit(
        n_items: usize,
        users: &[Vec<u32>],
        recent_popularity: Vec<f32>,
        params: &BaselineParams,
    ) -> Baselines {
        let cooc = Cooccurrence::from_baskets(n_items, users);
        let popularity = (0..n_items).map(|i| cooc.users(i)).collect();
        let knn = (0..n_items)
            .map(|i| {
                let ui = cooc.users(i);
                let mut row: Vec<(u32, f32)> = cooc
                    .row(i)
                    .iter()
                    .map(|&(j, c)| (j, c / (ui * cooc.users(j as usize)).sqrt()))
                    .collect();
                row.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                row.truncate(params.knn_neighbours);
                row
            })
            .collect();
        let observations: Observations = users
            .iter()
            .map(|b| b.iter().map(|&i| (i, 1.0)).collect())
            .collect();
        let (als_users, als_items) = als::fit(n_items, &observations, &params.als);
        Baselines {
            popularity,
            recent_popularity,
            knn,
            als_users,
            als_items,
            ease: ease(&cooc, params.ease_lambda),
        }
    }

    /// Scores of every item for `user` (their index in the fitted `users`) with training items
    /// `items`, by baseline `name` (one of [`NAMES`]).
    pub fn scores(&self, name: &str, user: usize, items: &[u32]) -> Vec<f32> {
        let n = self.popularity.len();
        match name {
            "popularity" => self.popularity.clone(),
            "recent_popularity" => self.recent_popularity.clone(),
            "item_knn" => {
                let mut s = vec![0.0; n];
                for &i in items {
                    for &(j, sim) in &self.knn[i as usize] {
                        s[j as usize] += sim;
                    }
                }
                s
            }
            "als" => {
                let u = &self.als_users[user];
                self.als_items.rows.iter().map(|y| dot(u, y)).collect()
            }
            _ => {
                let mut s = vec![0.0; n];
                for &i in items {
                    let row = &self.ease[i as usize * n..(i as usize + 1) * n];
                    for (x, b) in s.iter_mut().zip(row) {
                        *x += b;
                    }
                }
                s
            }
        }
    }
}

/// EASE: `P = (XᵀX + λI)⁻¹`, `B = I − P·diag(1/diag P)`, so `B_ij = −P_ij / P_jj` off the
/// diagonal and 0 on it. `XᵀX` is the co-occurrence matrix with users per item on the diagonal.
fn ease(cooc: &Cooccurrence, lambda: f64) -> Vec<f32> {
    let n = cooc.len();
    let mut g = DMatrix::<f64>::zeros(n, n);
    for i in 0..n {
        g[(i, i)] = f64::from(cooc.users(i)) + lambda;
        for &(j, c) in cooc.row(i) {
            g[(i, j as usize)] = f64::from(c);
        }
    }
    let Some(p) = g.cholesky().map(|c| c.inverse()) else {
        return vec![0.0; n * n];
    };
    let mut b = Vec::with_capacity(n * n);
    for i in 0..n {
        b.extend((0..n).map(|j| {
            if i == j {
                0.0
            } else {
                (-p[(i, j)] / p[(j, j)]) as f32
            }
        }));
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_baseline_prefers_the_planted_partner() {
        // Items 0 and 1 always go together, 2 and 3 too; item 4 is taken by everyone.
        let users: Vec<Vec<u32>> = (0..30)
            .map(|u| {
                if u % 2 == 0 {
                    vec![0, 1, 4]
                } else {
                    vec![2, 3, 4]
                }
            })
            .collect();
        let params = BaselineParams {
            als: AlsParams {
                factors: 3,
                ..AlsParams::default()
            },
            ..BaselineParams::default()
        };
        let b = Baselines::fit(5, &users, vec![0.0, 0.0, 2.0, 0.0, 1.0], &params);
        assert_eq!(b.scores("popularity", 0, &[0])[4], 30.0);
        assert_eq!(b.scores("recent_popularity", 0, &[0])[2], 2.0);
        for name in ["item_knn", "als", "ease"] {
            let s = b.scores(name, 0, &[0, 4]);
            assert!(s[1] > s[2] && s[1] > s[3], "{name}: {s:?}");
        }
        // cos(0, 1) = 15 / √(15·15) = 1.
        assert!((b.scores("item_knn", 0, &[0])[1] - 1.0).abs() < 1e-6);
    }
}
