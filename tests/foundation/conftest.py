# The browser fixtures, for the CSP test in the browser (test_csp_browser.py).
from tests.browser.conftest import browser, browser_user, logged_in_page, page  # noqa: F401
