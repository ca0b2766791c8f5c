"""acf's built-in plugins, written against acf's public API exactly as a third-party plugin would be."""
