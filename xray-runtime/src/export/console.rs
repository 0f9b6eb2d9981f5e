//! Console tree exporter.
