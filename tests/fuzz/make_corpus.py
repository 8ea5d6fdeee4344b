#!/usr/bin/env python3
"""Regenerate the seed corpora in tests/fuzz/corpus/ (run from anywhere).

The seeds are committed; this script only documents where they came from and
rewrites the generated ones (files named seed-*). Regression inputs saved
from crashes (crash-*, other names) are left alone.
"""
import base64
import json
import os
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"

TID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APPID = "3f1c9a52-7b8e-4d21-a0c6-5e9d2f4b8a17"
OID = "9b0e7d3c-2a41-4f6e-8c15-d7a2b3e4f5a6"
IAT = 1767225000
NOW = 1767225600


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(header, payload, sig=b"\x8f\x12" * 64):
    return "%s.%s.%s" % (b64u(json.dumps(header, separators=(",", ":")).encode()),
                         b64u(json.dumps(payload, separators=(",", ":")).encode()),
                         b64u(sig))


HDR = {"typ": "JWT", "alg": "RS256", "x5t": "KQ2tAcrE7lBaVVGBmc5FobgdJo4",
       "kid": "KQ2tAcrE7lBaVVGBmc5FobgdJo4"}
V1 = {"aud": "https://api.security.microsoft.com",
      "iss": "https://sts.windows.net/%s/" % TID, "iat": IAT, "nbf": IAT,
      "exp": IAT + 3899, "aio": "E2NgYJg9c8ht/9ttdbnSlhP0AQA=",
      "app_displayname": "defgate-soc", "appid": APPID, "appidacr": "1",
      "idp": "https://sts.windows.net/%s/" % TID, "oid": OID,
      "rh": "0.AQkAv4j5cvGGr0GRqy180BHbRw.", "roles": [
          "Incident.Read.All", "AdvancedHunting.Read.All"],
      "sub": OID, "tid": TID, "uti": "nHj4n8lzXk2Cq0aD1XGxAA", "ver": "1.0"}
V2 = {"aud": "https://api.security.microsoft.com",
      "iss": "https://login.microsoftonline.com/%s/v2.0" % TID, "iat": IAT,
      "nbf": IAT, "exp": IAT + 3599, "azp": APPID, "azpacr": "2",
      "idtyp": "app", "oid": OID, "roles": ["Incident.ReadWrite.All"],
      "sub": OID, "tid": TID, "ver": "2.0"}


def write(name, files):
    d = CORPUS / name
    d.mkdir(parents=True, exist_ok=True)
    for p in d.glob("seed-*"):
        p.unlink()
    for fname, data in files.items():
        if isinstance(data, str):
            data = data.encode()
        (d / ("seed-" + fname)).write_bytes(data)


def jwt_seeds():
    v1_noroles = dict(V1)
    del v1_noroles["roles"]
    v2_many = dict(V2, roles=["Role.%d" % i for i in range(70)])
    v2_str_times = dict(V2, exp=str(IAT + 3599), iat="x", nbf=-5)
    v2_weird = dict(V2, roles=["A", 1, None, {"x": []}, "b"], azpacr="0",
                    aud=["a", "b"], ver=2.0)
    s = {
        "v1-roles.jwt": jwt(HDR, V1),
        "v1-noroles.jwt": jwt(HDR, v1_noroles),
        "v2-roles.jwt": jwt(HDR, V2),
        "v2-70roles.jwt": jwt(HDR, v2_many),
        "v2-string-times.jwt": jwt(HDR, v2_str_times),
        "v2-empty-roles.jwt": jwt({"alg": "none"}, dict(V2, roles=[]), b""),
        "two-parts.jwt": jwt(HDR, V2).rsplit(".", 1)[0],
        "padded.jwt": base64.urlsafe_b64encode(b'{"alg":"RS256"}').decode()
        + ".e30=.sig",
        "not-object.jwt": "%s.%s.x" % (b64u(b"[1,2]"), b64u(b'"str"')),
        # JSON as the structured mode sees it: header NUL payload
        "json-v1.bin": json.dumps(HDR) + "\0" + json.dumps(V1),
        "json-weird.bin": json.dumps(v2_weird),
        "json-v2.json": json.dumps(V2, indent=1),
    }
    write("jwt", s)


def oauth_seeds():
    at = jwt(HDR, V2)
    v2ok = {"token_type": "Bearer", "expires_in": 3599,
            "ext_expires_in": 3599, "access_token": at}
    v1ok = {"token_type": "Bearer", "expires_in": "3599",
            "ext_expires_in": "3599", "expires_on": str(NOW + 3599),
            "not_before": str(NOW - 300),
            "resource": "https://api.security.microsoft.com",
            "access_token": at}

    def err(error, code, text, status_ts="2026-01-01 00:00:00Z"):
        return {"error": error,
                "error_description": "AADSTS%d: %s\r\nTrace ID: "
                "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\r\nCorrelation ID: "
                "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809\r\nTimestamp: %s"
                % (code, text, status_ts),
                "error_codes": [code], "timestamp": status_ts,
                "trace_id": "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                "correlation_id": "1a2b3c4d-5e6f-7081-92a3-b4c5d6e7f809",
                "error_uri": "https://login.microsoftonline.com/error?code=%d"
                % code}
    s = {
        "v2-ok.txt": "00" + json.dumps(v2ok),
        "v1-ok.txt": "00" + json.dumps(v1ok),
        "v1-clock-behind.txt": "00" + json.dumps(dict(v1ok, expires_in="60")),
        "expired.txt": "00" + json.dumps(dict(v1ok, expires_on=str(NOW - 1),
                                              expires_in=None)),
        "no-expiry.txt": "00" + json.dumps({"access_token": "abc"}),
        "mac-type.txt": "00" + json.dumps(dict(v2ok, token_type="mac")),
        "not-json.txt": "00<html><body>Service Unavailable</body></html>",
        "7000215.txt": "01" + json.dumps(err(
            "invalid_client", 7000215, "Invalid client secret provided. "
            "Ensure the secret being sent in the request is the client "
            "secret value, not the client secret ID, for a secret added to "
            "app '%s'." % APPID)),
        "7000222.txt": "02" + json.dumps(err(
            "invalid_client", 7000222, "The provided client secret keys for "
            "app '%s' are expired." % APPID)),
        "90002.txt": "01" + json.dumps(err(
            "invalid_request", 90002, "Tenant 'contoso.example' not found.")),
        "700016.txt": "01" + json.dumps(err(
            "unauthorized_client", 700016, "Application with identifier "
            "'%s' was not found in the directory." % APPID)),
        "500011.txt": "01" + json.dumps(err(
            "invalid_resource", 500011, "The resource principal named "
            "https://api.security.microsoft.com was not found.")),
        "429.txt": "04" + json.dumps(err(
            "temporarily_unavailable", 90055, "The tenant is throttled.")),
        "500-empty.txt": "05",
        "503-html.txt": "06<html><head><title>503</title></head></html>",
        "odd-status.txt": "07{\"error\":\"\",\"error_codes\":\"x\"}",
    }
    write("oauth", s)


def config_seeds():
    sample = (HERE.parent.parent / "etc" / "defgate.conf").read_text()
    good = ("[defgate]\n"
            "tenant_id = %s\n"
            "client_id = %s\n"
            "client_secret_file = /etc/defgate/client_secret\n"
            "listen = 127.0.0.1:8080\n"
            "allow_from = 127.0.0.1/32, ::1/128, 10.20.0.0/16\n"
            "token_version = v1\n"
            "max_body = 512k\nmax_response = 256m\ntimeout = 200\n"
            "connect_timeout = 10\ntoken_timeout = 30\n"
            "max_clients = 4096\nclient_timeout = 60\n"
            "max_upstream_connections = 8\nallow_write = yes\n" % (TID, APPID))
    s = {
        "sample.conf": sample,
        "good.conf": good,
        "inline-secret.conf": "tenant_id = contoso.onmicrosoft.com\r\n"
        "client_id = '%s'\r\nclient_secret = \"Zq8Q~abc.def_GHI-jkl\"\r\n"
        "listen = [::1]:0\r\n" % APPID,
        "errors.conf": "tenant_id = common\nclient_id = not a guid\n"
        "client_secret_file = \x01\nbogus = 1\nno equals sign\n"
        "authority_host = http://login.microsoftonline.com\n"
        "api_url = https://user@api.example/?x#y\nscope = a b\n"
        "listen = localhost:99999\nmax_body = 65m\nmax_response = 1\n"
        "timeout = 0\nallow_from = 300.1.1.1/8,,::1/129\n"
        "token_version = v3\nallow_write = maybe\nca_file = /nonexistent\n",
        "long-line.conf": "tenant_id = " + "a" * 4200 + "\nclient_id = x\n",
        "sizes.conf": "max_body = 64m\nmax_response = 4g\nmax_body = 1k\n"
        "max_response = 1099511627776\nmax_body=k\n",
        "cidrs.conf": "allow_from = " + ",".join(
            "10.%d.0.0/16" % i for i in range(33)) + "\n"
        "allow_from = fe80::1%eth0/64, 0.0.0.0/0\n",
    }
    write("config", s)


def router_seeds():
    # first byte: '0' GET '1' POST '2' PATCH '3' DELETE '4' PUT '5' CONNECT
    # '6' HEAD '7' OPTIONS
    s = {
        "incidents.txt": "0/incidents?$top=10&$filter=status+eq+'Active'"
        "&$orderby=lastUpdateTime%20desc",
        "incident.txt": "0/incidents/924565",
        "patch.txt": "2/incidents/ab-CD_01",
        "hunting-get.txt": "0/hunting?query=DeviceProcessEvents%20%7C%20"
        "where%20FileName%20%3D~%20%22powershell.exe%22%20%7C%20take%2010",
        "hunting-post.txt": "1/hunting",
        "status.txt": "0/status.json",
        "asset.txt": "0/status.css",
        "root.txt": "0/",
        "healthz.txt": "6/healthz",
        "dotdot.txt": "0/incidents/..%2f..%2fetc/passwd",
        "enc-dot.txt": "0/%2e%2e/incidents",
        "backslash.txt": "0/incidents\\..\\status",
        "connect.txt": "5api.security.microsoft.com:443",
        "absolute.txt": "0http://evil.example/incidents",
        "options-star.txt": "7*",
        "ctl.txt": "0/incidents?$top=1\x01\x7f",
        "utf8.txt": "0/hunting?query=caf\xc3\xa9",
        "fragment.txt": "0/incidents#frag?x=1",
        "bad-escape.txt": "0/incidents?query=%zz&$top=%",
        "nul.txt": "0/healthz\0/incidents/1",
        "long-id.txt": "0/incidents/" + "a" * 129,
        "delete.txt": "3/incidents/1",
    }
    write("router", {k: v.encode("latin-1") for k, v in s.items()})


def query_seeds():
    s = {
        "odata.txt": "$top=10&$skip=20&$filter=severity+eq+'High'",
        "kql.txt": "DeviceNetworkEvents%20%7C%20where%20RemotePort%20%3D%3D"
        "%20443%20%7C%20summarize%20count()%20by%20DeviceName",
        "plus.txt": "a+b%2Bc%25",
        "short-escape.txt": "abc%4",
        "amp.txt": "x%26y&query=second",
        "raw-utf8.txt": "\xe2\x82\xac",
        "pct-utf8.txt": "%E2%82%AC%00%0d%0a",
        "space.txt": "a b",
        "empty.txt": "",
    }
    write("query", {k: v.encode("latin-1") for k, v in s.items()})


def header_seeds():
    s = {
        "100-continue.txt": "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Type: application/json; "
        "odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false;"
        " charset=utf-8\r\nContent-Length: 1234\r\n"
        "request-id: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0\r\n"
        "Strict-Transport-Security: max-age=31536000\r\n"
        "Date: Thu, 01 Jan 2026 00:00:00 GMT\r\n\r\n",
        "429.txt": "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 17\r\n"
        "Content-Type: application/json\r\nContent-Length: 0\r\n\r\n",
        "h2.txt": "HTTP/2 403 \r\ncontent-type: application/json\r\n"
        "x-ms-request-id: abc\r\nREQUEST-ID:   padded \t\r\n\r\n",
        "redirect.txt": "HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n"
        "Content-Length: 5\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        "weird.txt": "HTTP/1.1 20x\r\nContent-Length: -1\r\nContent-Length:"
        " 99999999999999999999\r\nContent-Type:\r\n  folded\r\n"
        "Retry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\nno colon here\r\n"
        "X: \x01\x7f\r\n\n",
        "bare-lf.txt": "HTTP/1.0 500 Internal\nContent-Type: text/html\n\n",
    }
    write("header", {k: v.encode("latin-1") for k, v in s.items()})


def huntshape_seeds():
    ctx = ("https://graph.microsoft.com/v1.0/$metadata#"
           "microsoft.graph.security.huntingQueryResults")
    schema = [{"name": "Timestamp", "type": "DateTime"},
              {"name": "DeviceName", "type": "String"},
              {"name": "ProcessCommandLine", "type": "String"},
              {"name": "InitiatingProcessId", "type": "Int64"},
              {"name": "AdditionalFields", "type": "Object"}]
    rows = [{"Timestamp": "2026-11-20T06:38:35.7664356Z",
             "DeviceName": "ws-0142.corp.contoso.com",
             "ProcessCommandLine": "powershell.exe -nop -c \"Get-Item "
             "C:\\Windows\\Temp\\a.ps1\"\r\n",
             "InitiatingProcessId": 4711,
             "AdditionalFields": {"name": "n", "type": [1.5, -2e-3, None],
                                  "schema": True, "results": False}},
            {"Timestamp": "2026-11-20T06:39:01.0000001Z",
             "DeviceName": "Jos\u00e9 \U0001F600", "ProcessCommandLine": "",
             "InitiatingProcessId": 0, "AdditionalFields": []}]
    graph = {"@odata.context": ctx, "schema": schema, "results": rows}
    odd = [{"name": "schema", "type": "String", "description": "x"},
           {"name": "name", "type": "String"},
           {"name": "type", "type": "String"},
           {"name": "results", "type": "String"}]
    odd_rows = [{"schema": "s", "name": "n", "type": "t",
                 "results": {"name": [], "type": {}}}]
    compact = json.dumps(graph, separators=(",", ":"))
    s = {
        "graph.json": compact,
        "graph-utf8.json": json.dumps(graph, ensure_ascii=False),
        "pretty.json": json.dumps(graph, indent=2),
        "results-first.json": json.dumps(
            {"results": rows, "stats": {"x": 1}, "schema": schema}),
        "special-columns.json": json.dumps(
            {"@odata.context": ctx, "schema": odd, "results": odd_rows}),
        "escaped-keys.json": '{"sch\\u0065ma":[{"n\\u0061me":"a",'
        '"\\u0074ype":"String","na\\u006de2":1}],'
        '"r\\u0065sults":[{"\\ud83d\\ude00":"\\u20ac"}]}',
        "empty.json": '{"schema":[],"results":[]}',
        "defender.json": json.dumps(
            {"Stats": {"ExecutionTime": 0.01}, "Schema": [
                {"Name": "A", "Type": "String"}], "Results": [{"A": "x"}]}),
        "truncated.json": compact[:len(compact) // 2],
        "trailing.json": compact + " {}",
        "deep.json": '{"schema":[],"results":[{"a":' + "[" * 126
        + "]" * 126 + "}]}",
        "graph-error.json": json.dumps({"error": {
            "code": "BadRequest", "message": "Query could not be parsed",
            "innerError": {"date": "2026-11-20T06:38:35",
                           "request-id": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
                           "client-request-id": "0f1e2d3c"}}}),
    }
    write("huntshape", s)


if __name__ == "__main__":
    jwt_seeds()
    oauth_seeds()
    config_seeds()
    router_seeds()
    query_seeds()
    header_seeds()
    huntshape_seeds()
