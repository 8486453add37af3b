"""MLflow's web UI in headless Chromium (issue 14): the data the pages show, the page script,
and the rules for comparing the API calls the pages make on two servers."""
