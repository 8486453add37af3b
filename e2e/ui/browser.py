"""The browser every UI test drives: Debian's chromium, which `make setup` installs. Playwright
launches it by path, because its own browser download cannot reach its host from here."""

CHROMIUM = "/usr/bin/chromium"
