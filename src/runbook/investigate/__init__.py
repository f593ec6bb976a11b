"""What an investigation concludes (analysis) and what the browser shows (browser)."""
