//! The back-to-back TCP fixture for service tests, under the names the
//! service tests use: a client `Tcp` drives the service's server `Tcp`.

pub use xskd_proto::testkit::{exchange, Segments as Sink, CLIENT, SERVER};
