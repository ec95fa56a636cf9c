"""backend.blobstore: S3 through the local server (moto's S3 on the DynamoDB port)."""
from __future__ import annotations

import urllib.request

import pytest

from backend import blobstore
from tests.conftest import make_config


@pytest.fixture(scope="module")
def config(dynamodb_endpoint):
    cfg = make_config(dynamodb_endpoint, table_prefix="blob-test")
    blobstore.ensure_bucket(cfg, cfg.bucket("exports"))
    return cfg


def test_a_stored_file_reads_back_byte_for_byte(config):
    data = "台账 ledger\n".encode() * 1000 + bytes(range(256))
    blobstore.put(config, config.bucket("exports"), "exports/ledger.xlsx", data,
                  content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert blobstore.get(config, config.bucket("exports"), "exports/ledger.xlsx") == data


def test_a_missing_key_is_not_stored(config):
    with pytest.raises(blobstore.NotStored):
        blobstore.get(config, config.bucket("exports"), "exports/never-written.xlsx")


def test_the_client_is_created_once_per_process(config):
    assert blobstore.client(config) is blobstore.client(config)


def test_a_download_link_serves_the_file_with_its_chinese_name(config):
    blobstore.put(config, config.bucket("exports"), "exports/a.txt", b"hello")
    url = blobstore.download_url(config, config.bucket("exports"), "exports/a.txt",
                                 filename="随访名单.txt")
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"hello"
        assert "%E9%9A%8F%E8%AE%BF" in resp.headers["Content-Disposition"]


def test_a_second_ensure_bucket_is_harmless(config):
    blobstore.ensure_bucket(config, config.bucket("exports"))
    blobstore.put(config, config.bucket("exports"), "k", b"v")
    assert blobstore.get(config, config.bucket("exports"), "k") == b"v"
