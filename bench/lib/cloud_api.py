"""A minimal client of Martlet's APIs for the bench scripts (the standard library only: the
benches run before any virtualenv exists)."""
import json
import urllib.request


class Cloud:
    def __init__(self, url, password, project="admin"):
        self.url = url
        auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin", "domain": {"id": "default"}, "password": password}}},
                         "scope": {"project": {"name": project, "domain": {"id": "default"}}}}}
        self.token = None
        headers, body = self.call("POST", "/identity/v3/auth/tokens", auth)
        self.token = headers["X-Subject-Token"]
        self.project = body["token"]["project"]["id"]

    def call(self, method, path, body=None):
        request = urllib.request.Request(self.url + path, method=method, data=json.dumps(body).encode() if body is not None else None)
        request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("X-Auth-Token", self.token)
        with urllib.request.urlopen(request) as answer:
            data = answer.read()
            return answer.headers, json.loads(data) if data else None

    def post(self, path, body):
        return self.call("POST", path, body)[1]

    def get(self, path):
        return self.call("GET", path)[1]
