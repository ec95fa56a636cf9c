"""The Web Push rules: quiet hours, TTL and urgency per kind, payload size, subscription checks."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest

from backend.rules import push as rules

UTC = timezone.utc


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("utc_hour, utc_minute, quiet", [
    (13, 59, False),  # 21:59 Shanghai
    (14, 0, True),    # 22:00
    (18, 0, True),    # 02:00
    (22, 59, True),   # 06:59
    (23, 0, False),   # 07:00
    (2, 0, False),    # 10:00
])
def test_quiet_hours_are_22_to_7_shanghai_time(utc_hour, utc_minute, quiet):
    assert rules.in_quiet_hours(datetime(2026, 11, 25, utc_hour, utc_minute, tzinfo=UTC)) is quiet


@pytest.mark.parametrize("held_at, release", [
    (datetime(2026, 11, 25, 15, 0, tzinfo=UTC), "2026-11-26T07:00:00+08:00"),  # 23:00 → next day
    (datetime(2026, 11, 25, 18, 0, tzinfo=UTC), "2026-11-26T07:00:00+08:00"),  # 02:00 on the 26th
])
def test_held_notices_go_out_at_seven(held_at, release):
    assert rules.quiet_hours_end(held_at).isoformat() == release


@pytest.mark.parametrize("kind, urgent, ttl, urgency", [
    ("slot_offer", False, 1800, "high"),
    ("appointment_reminder", False, 43200, "normal"),
    ("vaccine_due", False, 259200, "low"),
    ("followup_due", False, 259200, "low"),
    ("contract_renewal", False, 259200, "low"),
    ("something_new", False, 86400, "normal"),
    ("vaccine_due", True, 259200, "high"),
])
def test_ttl_and_urgency_per_kind_of_notice(kind, urgent, ttl, urgency):
    d = rules.delivery_for(kind, urgent)
    assert (d.ttl_seconds, d.urgency) == (ttl, urgency)


@pytest.mark.parametrize("body, url, fits_whole", [
    ("明天9:00门诊", "/booking/1", True),
    ("血" * 400, "/booking/1", True),
    ("血" * 400, "/x/" + "a" * 3000, False),
])
def test_payload_fits_in_one_push_message(body, url, fits_whole):
    data = rules.build_payload(notice_id="01J", kind="k", title="标题", body=body, url=url)
    assert len(data) <= rules.MAX_PAYLOAD_BYTES
    assert (json.loads(data)["body"] == body) is fits_whole


def test_payload_that_cannot_fit_is_refused():
    with pytest.raises(rules.PayloadTooLarge):
        rules.build_payload(notice_id="01J", kind="k", title="t", body="b", url="/" + "a" * 4000)


VENDORS = ("fcm.googleapis.com", "updates.push.services.mozilla.com", "*.notify.windows.com",
           "web.push.apple.com", "*.push.apple.com")


@pytest.mark.parametrize("endpoint, loopback_ok, ok", [
    ("https://fcm.googleapis.com/fcm/send/abc", False, True),
    ("https://updates.push.services.mozilla.com/wpush/v2/x", False, True),
    ("https://wns2-par02p.notify.windows.com/w/?token=x", False, True),
    ("https://web.push.apple.com/QGx", False, True),
    ("https://api.push.apple.com/3/device/x", False, True),
    ("https://FCM.googleapis.com./fcm/send/abc", False, True),
    ("https://fcm.googleapis.com:443/fcm/send/abc", False, True),
    ("https://fcm.googleapis.com:8443/fcm/send/abc", False, False),   # other ports: no
    ("https://notify.windows.com/x", False, False),          # "*." is a subdomain only
    ("https://evilnotify.windows.com/x", False, False),
    ("https://fcm.googleapis.com.evil.example/x", False, False),
    ("https://push.example.com/1", False, False),            # not a vendor's service
    ("https://10.0.0.5/push", False, False),
    ("https://169.254.169.254/latest/meta-data/", False, False),
    ("http://fcm.googleapis.com/fcm/send/abc", False, False),
    ("http://127.0.0.1:9000/push/1", False, False),
    ("http://127.0.0.1:9000/push/1", True, True),            # the tests' own push service
    ("http://localhost/push/1", True, False),                # loopback, but not listed
    ("http://example.com/push/1", True, False),
    ("ftp://fcm.googleapis.com/1", True, False),
    ("https://user:pw@fcm.googleapis.com/1", False, False),
    ("https://fcm.googleapis.com:99999/1", False, False),
    ("https://fcm.googleapis.com/a b", False, False),
    ("not a url", False, False),
    ("", False, False),
    ("https://fcm.googleapis.com/" + "a" * 1100, False, False),
])
def test_push_endpoint_is_https_on_a_listed_push_service(endpoint, loopback_ok, ok):
    hosts = VENDORS + (("127.0.0.1",) if loopback_ok else ())
    if ok:
        assert rules.check_endpoint(endpoint, allowed_hosts=hosts, allow_loopback=loopback_ok) == endpoint
    else:
        with pytest.raises(rules.InvalidSubscription):
            rules.check_endpoint(endpoint, allowed_hosts=hosts, allow_loopback=loopback_ok)


@pytest.mark.parametrize("address, loopback_ok, ok", [
    ("142.250.72.10", False, True),
    ("2a00:1450:4001:80b::200a", False, True),
    ("10.1.2.3", False, False), ("172.16.0.1", False, False), ("192.168.1.1", False, False),
    ("169.254.169.254", False, False), ("fe80::1", False, False), ("100.64.0.1", False, False),
    ("127.0.0.1", False, False), ("::1", False, False), ("::ffff:127.0.0.1", False, False),
    ("::ffff:10.0.0.1", False, False), ("0.0.0.0", False, False), ("224.0.0.1", False, False),
    ("fd00::1", False, False), ("127.0.0.1", True, True), ("10.1.2.3", True, False),
    ("not an ip", False, False),
])
def test_pushes_go_to_public_addresses_only(address, loopback_ok, ok):
    assert rules.address_allowed(address, allow_loopback=loopback_ok) is ok


def _point() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return b64(key.public_bytes(serialization.Encoding.X962,
                                serialization.PublicFormat.UncompressedPoint))


@pytest.mark.parametrize("p256dh, auth, ok", [
    ("POINT", b64(b"a" * 16), True),
    ("POINT", b64(b"a" * 15), False),          # auth secret is 16 bytes
    (b64(b"\x04" + b"\x01" * 64), b64(b"a" * 16), False),  # not on the curve
    (b64(b"\x02" + b"\x01" * 32), b64(b"a" * 16), False),  # compressed form
    ("not base64!", b64(b"a" * 16), False),
    ("", b64(b"a" * 16), False),
])
def test_subscription_keys_are_a_p256_point_and_a_16_byte_secret(p256dh, auth, ok):
    p256dh = _point() if p256dh == "POINT" else p256dh
    if ok:
        rules.check_keys(p256dh, auth)
    else:
        with pytest.raises(rules.InvalidSubscription):
            rules.check_keys(p256dh, auth)


@pytest.mark.parametrize("attempt, retry_after, wait", [
    (1, None, 0.5), (2, None, 1.0), (3, None, 2.0), (1, "7", 7.0), (1, "600", 30.0),
    (2, "Wed, 21 Oct 2026 07:28:00 GMT", 1.0),
])
def test_backoff_doubles_and_honours_retry_after(attempt, retry_after, wait):
    assert rules.backoff_seconds(attempt, 0.5, retry_after) == wait
