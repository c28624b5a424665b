//! Placeholder for the request-handler layer.
