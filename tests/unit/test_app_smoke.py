def test_unauthenticated_v1_call_is_401_problem(client):
    response = client.get("/v1/members/me")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 401


def test_authenticated_call_works_and_refreshes_directory(client, auth, container, deliver):
    response = client.get("/v1/members/me", headers=auth("M100", name="Ada Lovelace", email="ada@example.org"))
    assert response.status_code == 200
    assert response.json()["name"] == "Ada Lovelace"
    assert container.service("matching").get_member("M100")["email"] == "ada@example.org"
    assert deliver() >= 1
