//! Auto-classification of Chinese report text (being written).
