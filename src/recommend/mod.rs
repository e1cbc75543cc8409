//! Recommendations: the model (item vectors from content and behaviour, time-decayed user
//! vectors) and the HNSW index they are searched in.

pub mod index;
pub mod model;
