//! JSON lines exporter.
