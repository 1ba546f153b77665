"""The attach flow walked in Korean in Chromium: a Korean browser gets Korean pages from the sign-in on, the
requester attaches an interface and reads the outcome in Korean, and the switcher turns the pages to English.

With SCREENSHOT_DIR set, the walk saves the attach form, the request page and the audit log in both languages.
"""

import os
import re
from pathlib import Path

from playwright.sync_api import expect

from tests.e2e.conftest import sign_in
from tests.e2e.test_attach import settled


def shot(page, name: str) -> None:
    folder = os.environ.get("SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def attach_in_korean(page, world, address: str) -> None:
    page.get_by_role("link", name="web-01").click()
    page.get_by_role("link", name="인터페이스 연결").click()
    expect(page.locator("h1")).to_have_text("web-01에 인터페이스 연결")
    page.get_by_label("서브넷(서버의 VPC 안)").select_option(label="prod-db (192.168.20.0/24, 게이트웨이 192.168.20.1)")
    page.get_by_role("button", name="고정 IP 추가").click()
    settled(page)
    page.get_by_label("고정 IP 1", exact=True).fill(address)
    page.get_by_label("사유").focus()  # leaving the field checks the address, in Korean
    expect(page.locator("#fixed_ip_0_check")).to_have_text(f"{address}은(는) 사용할 수 있습니다.")
    page.get_by_label("사유").fill("야간 백업용 스토리지 네트워크")
    shot(page, "ko-attach-form")


def test_a_korean_requester_attaches_an_interface_in_korean(new_page, requester, auditor, sim, world):
    page = new_page(locale="ko-KR", timezone_id="Asia/Seoul")
    page.goto("/accounts/login/")
    expect(page.locator("h1")).to_have_text("로그인")
    page.get_by_label("사용자 이름").fill("requester")
    page.get_by_label("비밀번호").fill(os.environ["DEMO_PASSWORD"])
    page.get_by_role("button", name="로그인").click()
    page.wait_for_url("**/servers/")
    expect(page.locator("h1")).to_have_text("서버")
    expect(page.locator("html")).to_have_attribute("lang", "ko")

    attach_in_korean(page, world, "192.168.20.71")
    page.get_by_role("button", name="미리 보기").click()
    expect(page.locator("#preview-what")).to_have_text(
        "prod-db(192.168.20.0/24, 게이트웨이 192.168.20.1)에 새 포트, 주소 192.168.20.71"
    )
    page.get_by_role("button", name="확인 후 제출").click()
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    expect(page.locator("#status")).to_have_text("성공")
    expect(page.locator("ol.timeline")).to_contain_text("제출됨")
    expect(page.locator("ol.timeline")).to_contain_text("정책에 따라 자동 승인됨")
    expect(page.locator("#result-addresses")).to_have_text("192.168.20.71")
    shot(page, "ko-request")

    page.get_by_role("button", name="English").click()  # the switcher: the same page, in English, remembered
    expect(page.locator("#status")).to_have_text("Succeeded")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    shot(page, "en-request")
    page.goto(f"/servers/{world.servers['web-01'].id}/attach/")
    expect(page.locator("h1")).to_have_text("Attach an interface to web-01")
    shot(page, "en-attach-form")

    for language, name in (("ko-KR", "ko"), ("en-US", "en")):
        reviewer = new_page(locale=language)
        if name == "ko":
            reviewer.goto("/accounts/login/")
            reviewer.get_by_label("사용자 이름").fill("auditor")
            reviewer.get_by_label("비밀번호").fill(os.environ["DEMO_PASSWORD"])
            reviewer.get_by_role("button", name="로그인").click()
            reviewer.wait_for_url("**/servers/")
            reviewer.get_by_role("link", name="감사 로그").click()
            expect(reviewer.locator("h1")).to_have_text("감사 로그")
            expect(reviewer.get_by_role("button", name="지금 체인 검증")).to_be_visible()
        else:
            sign_in(reviewer, "auditor")
            reviewer.get_by_role("link", name="Audit log").click()
            expect(reviewer.locator("h1")).to_have_text("Audit log")
        expect(reviewer.locator("#results tbody tr").first).to_be_visible()
        shot(reviewer, f"{name}-audit-log")
