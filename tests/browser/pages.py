"""Steps every journey takes on a page: signing in as a demo login, checking the phone
layout does not scroll sideways."""

PASSWORD = "Yaohai@2021"
PHONE_WIDTH = 390


def login(page, base: str, username: str) -> None:
    """Sign in through the login form and land on the workbench."""
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{base}/workbench/")


def fits_phone(page) -> None:
    """Nothing wider than the phone: no sideways scrolling."""
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
