def test_home_page_is_chinese(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "县域基层健康服务" in r.get_data(as_text=True)
