//! The control plane: Prometheus exposition, connection export, the admin
//! HTTP endpoint. It only ever sees copies that workers hand over through
//! lock-free queues.

pub mod admin;
pub mod metrics;
pub mod notify;
pub mod state;
