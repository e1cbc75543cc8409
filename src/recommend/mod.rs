//! Recommendations: the model (item vectors from content and behaviour, time-decayed user
//! vectors), the HNSW index they are searched in, and the offline evaluation that measures
//! both against baselines on MovieLens-format data.

pub mod eval;
pub mod index;
pub mod model;
