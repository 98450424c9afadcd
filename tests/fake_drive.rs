//! Tests of the fake Google Drive server itself: it is what the Drive provider's end-to-end
//! tests trust to behave like Google, so its quirks are pinned down here.

use p8sync_e2e::fake_drive::{Counts, FakeDrive, Fault, Target, fields, query};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::{Duration, Instant};

const DOCX: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

struct Env {
    drive: FakeDrive,
    http: reqwest::Client,
    token: String,
}

async fn env() -> Env {
    let drive = FakeDrive::start().await;
    let (token, _) = drive.issue_tokens();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Env { drive, http, token }
}

impl Env {
    async fn call(&self, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.drive.api_base()))
            .query(query)
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    async fn json(&self, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let r = self.call(path, query).await;
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    /// Every page of a files.list, following nextPageToken; returns the pages.
    async fn list_all(&self, query: &[(&str, &str)]) -> Vec<Value> {
        let mut pages = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            if let Some(t) = &token {
                q.push(("pageToken", t));
            }
            let (status, page) = self.json("/files", &q).await;
            assert_eq!(status, 200, "{page}");
            token = page["nextPageToken"].as_str().map(str::to_string);
            pages.push(page);
            if token.is_none() {
                return pages;
            }
        }
    }

    async fn list_names(&self, q: &str) -> Vec<String> {
        let pages = self
            .list_all(&[("q", q), ("fields", "nextPageToken,files(name)")])
            .await;
        let mut names: Vec<String> = pages
            .iter()
            .flat_map(|p| p["files"].as_array().unwrap().clone())
            .map(|f| f["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    }
}

fn reason(v: &Value) -> &str {
    v["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

#[test]
fn q_parser_accepts_the_subset_and_names_problems() {
    for q in [
        "'abc' in parents",
        "'a' in parents and trashed = false",
        "('a' in parents or 'b' in parents) AND trashed=false",
        "not name contains 'x' and mimeType != 'application/vnd.google-apps.folder'",
        "name = 'O\\'Brien \\\\ co'",
        "modifiedTime > '2024-01-01T00:00:00Z' or modifiedTime <= '2024-01-01T00:00:00.5+02:00'",
        "createdTime >= '2024-01-01' and NOT (trashed = true)",
    ] {
        query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    }
    assert_eq!(
        query::parse("name = 'O\\'Brien'").unwrap(),
        query::Expr::Name(query::StrOp::Eq, "o'brien".into())
    );
    for (q, needle) in [
        ("'a' in parents and", "end of query"),
        ("('a' in parents", "')'"),
        ("name = 'unterminated", "unterminated"),
        ("name = 'bad \\n escape'", "escape"),
        ("colour = 'red'", "colour"),
        ("trashed = maybe", "true or false"),
        ("'a' in owners", "in parents"),
        ("modifiedTime > 'yesterday'", "date-time"),
        ("name > 'a'", "not valid"),
        ("'a' in parents 'b' in parents", "unexpected"),
        ("", "empty"),
    ] {
        let e = query::parse(q).expect_err(q);
        assert!(e.contains(needle), "{q}: {e}");
    }
}

#[test]
fn fields_selector_parses_nesting() {
    let v = json!({"kind": "k", "nextPageToken": "t", "files": [
        {"id": "1", "name": "n", "shortcutDetails": {"targetId": "x", "targetMimeType": "m"}}]});
    let pick = |f: &str| fields::parse(f).unwrap().apply(&v);
    assert_eq!(pick("files/id"), json!({"files": [{"id": "1"}]}));
    assert_eq!(
        pick("nextPageToken,files(id,shortcutDetails/targetId)"),
        json!({"nextPageToken": "t", "files": [{"id": "1", "shortcutDetails": {"targetId": "x"}}]})
    );
    assert_eq!(
        pick("files(shortcutDetails(targetId))"),
        json!({"files": [{"shortcutDetails": {"targetId": "x"}}]})
    );
    assert_eq!(pick("*"), v);
    assert_eq!(pick("files(*)"), json!({"files": v["files"]}));
    assert_eq!(
        pick("files(id),files(name)"),
        json!({"files": [{"id": "1", "name": "n"}]})
    );
    assert!(fields::parse("files(id").is_err());
    assert!(fields::parse("files,,id").is_err());
}

#[tokio::test]
async fn api_needs_a_live_bearer_token() {
    let e = env().await;
    let r = e
        .http
        .get(format!("{}/files", e.drive.api_base()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], 401);
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(
        body["error"]["errors"][0],
        json!({"domain": "global", "reason": "authError", "message": body["error"]["message"],
               "locationType": "header", "location": "Authorization"})
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Request had invalid authentication credentials")
    );
    assert_eq!(e.json("/files", &[]).await.0, 200);
    e.drive.expire_access_tokens();
    assert_eq!(e.json("/files", &[]).await.0, 401);
    let (fresh, _) = e.drive.issue_tokens();
    let ok = e
        .http
        .get(format!("{}/files", e.drive.api_base()))
        .bearer_auth(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    e.drive.set_access_token_lifetime(Duration::ZERO);
    let (dead, _) = e.drive.issue_tokens();
    let r = e
        .http
        .get(format!("{}/files", e.drive.api_base()))
        .bearer_auth(&dead)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn list_evaluates_q_and_returns_trashed_files_unless_asked_not_to() {
    let e = env().await;
    let d = &e.drive;
    let docs = d.add_folder("root", "Docs");
    let other = d.add_folder("root", "Other");
    d.add_file(&[&docs], "Report.PDF", "application/pdf", "pdf");
    d.add_file(&[&docs], "O'Brien \\ notes.txt", "text/plain", "x");
    let gone = d.add_file(&[&docs], "old.txt", "text/plain", "x");
    d.add_file(&[&other], "other.txt", "text/plain", "x");
    d.add_file(&[&docs, &other], "both.txt", "text/plain", "x");
    d.add_folder(&docs, "sub");
    d.trash(&gone);
    tokio::time::sleep(Duration::from_millis(2)).await;
    let cutoff = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tokio::time::sleep(Duration::from_millis(2)).await;
    let late = d.add_file(&[&docs], "late.txt", "text/plain", "x");

    let q = |s: &str| s.replace("DOCS", &docs).replace("OTHER", &other);
    assert_eq!(
        e.list_names(&q("'DOCS' in parents")).await,
        [
            "O'Brien \\ notes.txt",
            "Report.PDF",
            "both.txt",
            "late.txt",
            "old.txt",
            "sub"
        ]
    );
    assert_eq!(
        e.list_names(&q("'DOCS' in parents and trashed = false"))
            .await,
        [
            "O'Brien \\ notes.txt",
            "Report.PDF",
            "both.txt",
            "late.txt",
            "sub"
        ]
    );
    assert_eq!(e.list_names("trashed = true").await, ["old.txt"]);
    assert_eq!(e.list_names("name = 'report.pdf'").await, ["Report.PDF"]);
    assert_eq!(
        e.list_names("name = 'O\\'Brien \\\\ notes.txt'").await,
        ["O'Brien \\ notes.txt"]
    );
    assert_eq!(
        e.list_names("name contains 'OTH'").await,
        ["Other", "other.txt"],
        "prefixes only"
    );
    assert_eq!(
        e.list_names("name contains 'notes'").await,
        ["O'Brien \\ notes.txt"],
        "word starts count"
    );
    assert_eq!(
        e.list_names(&q("('DOCS' in parents or 'OTHER' in parents) and mimeType != 'application/vnd.google-apps.folder' and not name contains '.txt'")).await,
        ["Report.PDF"]
    );
    assert_eq!(
        e.list_names("mimeType = 'application/vnd.google-apps.folder'")
            .await,
        ["Docs", "Other", "sub"]
    );
    assert_eq!(
        e.list_names(&format!("modifiedTime > '{cutoff}'")).await,
        ["late.txt"]
    );
    assert_eq!(
        e.list_names(&q("'OTHER' in parents OR 'root' in parents"))
            .await,
        ["Docs", "Other", "both.txt", "other.txt"]
    );
    let (_, f) = e
        .json(&format!("/files/{late}"), &[("fields", "parents,trashed")])
        .await;
    assert_eq!(f, json!({"parents": [docs], "trashed": false}));

    let (status, err) = e.json("/files", &[("q", "'x' in parents and")]).await;
    assert_eq!(status, 400);
    assert_eq!(reason(&err), "invalid");
    assert_eq!(err["error"]["errors"][0]["location"], "q");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Value"),
        "{err}"
    );
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("end of query"),
        "{err}"
    );
}

#[tokio::test]
async fn fields_default_minimal_and_selectable() {
    let e = env().await;
    let d = &e.drive;
    let f = d.add_file(&["root"], "a.bin", "application/octet-stream", "abc");
    let s = d.add_shortcut("root", "link", &f);
    let doc = d.add_workspace("root", "Doc", "document", "hi");
    let (_, page) = e.json("/files", &[]).await;
    assert_eq!(page["kind"], "drive#fileList");
    assert_eq!(page["incompleteSearch"], false);
    assert_eq!(
        page["files"][0],
        json!({"kind": "drive#file", "id": f, "name": "a.bin", "mimeType": "application/octet-stream"})
    );
    let (_, page) = e.json("/files", &[("fields", "files/id")]).await;
    assert_eq!(page, json!({"files": [{"id": f}, {"id": s}, {"id": doc}]}));
    let (_, got) = e
        .json(
            &format!("/files/{s}"),
            &[("fields", "shortcutDetails/targetId")],
        )
        .await;
    assert_eq!(got, json!({"shortcutDetails": {"targetId": f}}));
    let (_, full) = e.json(&format!("/files/{f}"), &[("fields", "*")]).await;
    assert_eq!(full["size"], "3");
    assert_eq!(full["md5Checksum"], "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        full["sha1Checksum"],
        "a9993e364706816aba3e25717850c26c9cd0d89d"
    );
    assert_eq!(
        full["sha256Checksum"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(full["version"], "1");
    assert_eq!(full["capabilities"]["canDownload"], true);
    assert!(full["headRevisionId"].is_string());
    let modified = full["modifiedTime"].as_str().unwrap();
    assert!(
        modified.ends_with('Z') && modified.len() == 24,
        "{modified}"
    );
    let id = full["id"].as_str().unwrap();
    assert!(
        (28..=44).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let (_, full) = e.json(&format!("/files/{doc}"), &[("fields", "*")]).await;
    assert!(full.get("size").is_none() && full.get("md5Checksum").is_none());
    let link = full["exportLinks"][DOCX].as_str().unwrap();
    assert!(
        link.starts_with(&format!(
            "{}/export-links/{doc}?mimeType=application%2F",
            e.drive.origin()
        )),
        "{link}"
    );
    let (_, sc) = e.json(&format!("/files/{s}"), &[("fields", "*")]).await;
    assert_eq!(
        sc["shortcutDetails"],
        json!({"targetId": f, "targetMimeType": "application/octet-stream"})
    );
    assert_eq!(e.json("/files", &[("fields", "files(id")]).await.0, 400);
}

#[tokio::test]
async fn pages_can_be_short_or_empty_and_deliver_everything_once() {
    let e = env().await;
    let folder = e.drive.add_folder("root", "many");
    let mut want = Vec::new();
    for i in 0..250 {
        want.push(
            e.drive
                .add_file(&[&folder], &format!("f{i}"), "text/plain", "x"),
        );
    }
    let q = format!("'{folder}' in parents and trashed = false");
    let pages = e
        .list_all(&[
            ("q", &q),
            ("pageSize", "100"),
            ("fields", "nextPageToken,files(id)"),
        ])
        .await;
    let sizes: Vec<usize> = pages
        .iter()
        .map(|p| p["files"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [100, 50, 0, 100]);
    assert!(
        pages[2]["nextPageToken"].is_string(),
        "an empty page still says there is more"
    );
    let got: Vec<&str> = pages
        .iter()
        .flat_map(|p| {
            p["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap())
        })
        .collect();
    assert_eq!(got, want.iter().map(String::as_str).collect::<Vec<_>>());

    let (status, err) = e.json("/files", &[("pageToken", "garbage")]).await;
    assert_eq!((status, reason(&err)), (400, "invalid"));
    let first = &pages[0]["nextPageToken"];
    let (status, _) = e
        .json(
            "/files",
            &[
                ("pageToken", first.as_str().unwrap()),
                ("q", "trashed = true"),
            ],
        )
        .await;
    assert_eq!(
        status, 400,
        "a token is only good for the query it came from"
    );
    assert_eq!(e.json("/files", &[("pageSize", "1001")]).await.0, 400);
    assert_eq!(e.json("/files", &[("pageSize", "0")]).await.0, 400);
}

#[tokio::test]
async fn ten_thousand_files_list_quickly_in_batches() {
    let e = env().await;
    let folders: Vec<String> = (0..100)
        .map(|i| e.drive.add_folder("root", &format!("d{i}")))
        .collect();
    for i in 0..10_000 {
        e.drive
            .add_file(&[&folders[i % 100]], &format!("f{i}"), "text/plain", "x");
    }
    let started = Instant::now();
    let mut seen = HashSet::new();
    for batch in folders.chunks(50) {
        let ors: Vec<String> = batch.iter().map(|f| format!("'{f}' in parents")).collect();
        let q = format!("({}) and trashed = false", ors.join(" or "));
        for page in e
            .list_all(&[
                ("q", &q),
                ("pageSize", "1000"),
                (
                    "fields",
                    "nextPageToken,files(id,name,parents,size,md5Checksum)",
                ),
            ])
            .await
        {
            for f in page["files"].as_array().unwrap() {
                assert!(seen.insert(f["id"].as_str().unwrap().to_string()));
            }
        }
    }
    assert_eq!(seen.len(), 10_000);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn shared_drive_items_hide_without_both_flags() {
    let e = env().await;
    let d = &e.drive;
    let team = d.add_shared_drive("Team");
    let f = d.add_file(&[&team], "t.txt", "text/plain", "team");
    d.add_file(&["root"], "mine.txt", "text/plain", "mine");
    assert_eq!(e.list_names("trashed = false").await, ["mine.txt"]);
    let names = |q: Vec<(&'static str, &'static str)>| {
        let e = &e;
        async move {
            let (s, p) = e.json("/files", &q).await;
            assert_eq!(s, 200, "{p}");
            let mut v: Vec<String> = p["files"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap().to_string())
                .collect();
            v.sort();
            v
        }
    };
    assert_eq!(
        names(vec![
            ("corpora", "allDrives"),
            ("supportsAllDrives", "true")
        ])
        .await,
        ["mine.txt"]
    );
    assert_eq!(
        names(vec![
            ("corpora", "allDrives"),
            ("includeItemsFromAllDrives", "true")
        ])
        .await,
        ["mine.txt"]
    );
    assert_eq!(
        names(vec![
            ("corpora", "allDrives"),
            ("supportsAllDrives", "true"),
            ("includeItemsFromAllDrives", "true")
        ])
        .await,
        ["mine.txt", "t.txt"]
    );
    let (s, p) = e
        .json(
            "/files",
            &[
                ("corpora", "drive"),
                ("driveId", &team),
                ("supportsAllDrives", "true"),
                ("includeItemsFromAllDrives", "true"),
                ("fields", "files(name,driveId)"),
            ],
        )
        .await;
    assert_eq!(
        (s, p),
        (200, json!({"files": [{"name": "t.txt", "driveId": team}]}))
    );
    assert_eq!(e.json("/files", &[("corpora", "drive")]).await.0, 400);
    assert_eq!(e.json(&format!("/files/{f}"), &[]).await.0, 404);
    let (s, got) = e
        .json(
            &format!("/files/{f}"),
            &[("supportsAllDrives", "true"), ("fields", "driveId,parents")],
        )
        .await;
    assert_eq!((s, got), (200, json!({"driveId": team, "parents": [team]})));
    let (_, drives) = e.json("/drives", &[]).await;
    assert_eq!(
        drives,
        json!({"kind": "drive#driveList", "drives": [{"kind": "drive#drive", "id": team, "name": "Team"}]})
    );
}

#[tokio::test]
async fn media_downloads_honour_range_and_refuse_what_drive_refuses() {
    let e = env().await;
    let d = &e.drive;
    let f = d.add_file(
        &["root"],
        "digits",
        "application/octet-stream",
        "0123456789",
    );
    let media =
        |id: String, range: Option<&'static str>, extra: Vec<(&'static str, &'static str)>| {
            let e = &e;
            async move {
                let mut q = vec![("alt", "media")];
                q.extend(extra);
                let mut r = e
                    .http
                    .get(format!("{}/files/{id}", e.drive.api_base()))
                    .query(&q)
                    .bearer_auth(&e.token);
                if let Some(range) = range {
                    r = r.header("range", range);
                }
                let r = r.send().await.unwrap();
                let status = r.status().as_u16();
                let cr = r
                    .headers()
                    .get("content-range")
                    .map(|v| v.to_str().unwrap().to_string());
                let len = r
                    .headers()
                    .get("content-length")
                    .map(|v| v.to_str().unwrap().to_string());
                (status, cr, len, r.bytes().await.unwrap().to_vec())
            }
        };
    assert_eq!(
        media(f.clone(), None, vec![]).await,
        (200, None, Some("10".into()), b"0123456789".to_vec())
    );
    assert_eq!(
        media(f.clone(), Some("bytes=2-4"), vec![]).await,
        (
            206,
            Some("bytes 2-4/10".into()),
            Some("3".into()),
            b"234".to_vec()
        )
    );
    assert_eq!(media(f.clone(), Some("bytes=7-"), vec![]).await.3, b"789");
    assert_eq!(media(f.clone(), Some("bytes=-2"), vec![]).await.3, b"89");
    assert_eq!(
        media(f.clone(), Some("bytes=8-100"), vec![]).await.1,
        Some("bytes 8-9/10".into())
    );
    let (status, cr, _, _) = media(f.clone(), Some("bytes=10-"), vec![]).await;
    assert_eq!((status, cr), (416, Some("bytes */10".into())));

    let doc = d.add_workspace("root", "Doc", "document", "text");
    let (status, _, _, body) = media(doc, None, vec![]).await;
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, reason(&err)), (403, "fileNotDownloadable"));
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Only files with binary content can be downloaded")
    );
    let folder = d.add_folder("root", "dir");
    assert_eq!(media(folder, None, vec![]).await.0, 403);

    let bad = d.add_file(&["root"], "bad.exe", "application/octet-stream", "evil");
    d.mark_abusive(&bad);
    let (status, _, _, body) = media(bad.clone(), None, vec![]).await;
    assert_eq!(
        (status, reason(&serde_json::from_slice(&body).unwrap())),
        (403, "cannotDownloadAbusiveFile")
    );
    assert_eq!(
        media(bad, None, vec![("acknowledgeAbuse", "true")]).await.3,
        b"evil"
    );

    let hot = d.add_file(&["root"], "hot", "application/octet-stream", "x");
    d.mark_download_quota_exceeded(&hot);
    let (status, _, _, body) = media(hot, None, vec![]).await;
    assert_eq!(
        (status, reason(&serde_json::from_slice(&body).unwrap())),
        (403, "downloadQuotaExceeded")
    );

    d.trash(&f);
    assert_eq!(
        media(f.clone(), None, vec![]).await.3,
        b"0123456789",
        "trashed files still download"
    );
    d.delete(&f);
    let (status, _, _, body) = media(f.clone(), None, vec![]).await;
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, reason(&err)), (404, "notFound"));
    assert_eq!(err["error"]["message"], format!("File not found: {f}."));
}

#[tokio::test]
async fn export_has_a_cap_that_export_links_do_not() {
    let e = env().await;
    let d = &e.drive;
    let doc = d.add_workspace("root", "Doc", "document", "hello");
    let export = |id: String, mime: &'static str| {
        let e = &e;
        async move {
            let r = e
                .call(&format!("/files/{id}/export"), &[("mimeType", mime)])
                .await;
            let status = r.status().as_u16();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            (status, ct, r.bytes().await.unwrap().to_vec())
        }
    };
    assert_eq!(
        export(doc.clone(), DOCX).await,
        (200, DOCX.into(), d.export_bytes(&doc, DOCX))
    );
    assert_eq!(
        d.export_bytes(&doc, "text/plain"),
        b"EXPORT text/plain\nhello"
    );
    let (status, _, body) = export(doc.clone(), "text/csv").await;
    assert_eq!(
        (status, reason(&serde_json::from_slice(&body).unwrap())),
        (400, "badRequest")
    );
    let sheet = d.add_workspace("root", "Sheet", "spreadsheet", "a,b");
    assert_eq!(export(sheet, "text/csv").await.2, b"EXPORT text/csv\na,b");
    let bin = d.add_file(&["root"], "x.bin", "application/octet-stream", "x");
    let (status, _, body) = export(bin, "text/plain").await;
    assert_eq!(
        (status, reason(&serde_json::from_slice(&body).unwrap())),
        (403, "fileNotExportable")
    );
    let form = d.add_workspace("root", "Form", "form", "q");
    assert_eq!(export(form.clone(), "application/pdf").await.0, 403);
    let (_, meta) = e
        .json(&format!("/files/{form}"), &[("fields", "exportLinks")])
        .await;
    assert_eq!(meta, json!({}), "forms have no exportLinks");

    d.update_workspace_text(&doc, "big");
    d.set_export_oversized(&doc);
    let (status, _, body) = export(doc.clone(), DOCX).await;
    let err: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((status, reason(&err)), (403, "exportSizeLimitExceeded"));
    assert_eq!(
        err["error"]["message"],
        "This file is too large to be exported."
    );
    let (_, meta) = e
        .json(&format!("/files/{doc}"), &[("fields", "exportLinks")])
        .await;
    let link = meta["exportLinks"][DOCX].as_str().unwrap().to_string();
    let r = e
        .http
        .get(&link)
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().await.unwrap().to_vec(),
        d.export_bytes(&doc, DOCX)
    );
    assert_eq!(e.http.get(&link).send().await.unwrap().status(), 401);
    let c = d.counts();
    assert_eq!((c.export, c.export_link, c.total_api), (6, 2, 10));
}

#[tokio::test]
async fn changes_collapse_per_file_and_end_with_a_new_start_token() {
    let e = env().await;
    let d = &e.drive;
    let (_, start) = e.json("/changes/startPageToken", &[]).await;
    assert_eq!(start["kind"], "drive#startPageToken");
    let start = start["startPageToken"].as_str().unwrap().to_string();
    assert_eq!(start, d.start_page_token());
    let a = d.add_file(&["root"], "a", "text/plain", "1");
    let b = d.add_file(&["root"], "b", "text/plain", "1");
    let c = d.add_file(&["root"], "c", "text/plain", "1");
    d.update_content(&a, "22");
    d.rename(&b, "b2");
    d.trash(&c);
    let gone = d.add_file(&["root"], "gone", "text/plain", "1");
    d.delete(&gone);
    let team = d.add_shared_drive("Team");
    d.add_file(&[&team], "t", "text/plain", "1");

    let (status, page) = e.json("/changes", &[("pageToken", &start)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.get("nextPageToken").is_none());
    let new_start = page["newStartPageToken"].as_str().unwrap().to_string();
    let changes = page["changes"].as_array().unwrap();
    let summary: Vec<(String, bool)> = changes
        .iter()
        .map(|c| {
            (
                c["fileId"].as_str().unwrap().to_string(),
                c["removed"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (a.clone(), false),
            (b.clone(), false),
            (c.clone(), false),
            (gone.clone(), true)
        ]
    );
    assert_eq!(changes[0]["kind"], "drive#change");
    assert_eq!(changes[0]["changeType"], "file");
    assert!(changes[0]["time"].is_string());
    assert_eq!(changes[1]["file"]["name"], "b2");
    assert!(changes[3].get("file").is_none());

    let (_, full) = e
        .json("/changes", &[("pageToken", &start), ("fields", "*")])
        .await;
    let trashed = &full["changes"][2]["file"];
    assert_eq!(
        (trashed["trashed"].as_bool(), trashed["version"].as_str()),
        (Some(true), Some("2"))
    );
    assert_eq!(full["changes"][0]["file"]["size"], "2");

    let (_, kept) = e
        .json(
            "/changes",
            &[("pageToken", &start), ("includeRemoved", "false")],
        )
        .await;
    assert_eq!(kept["changes"].as_array().unwrap().len(), 3);
    let (_, all) = e
        .json(
            "/changes",
            &[
                ("pageToken", &start),
                ("supportsAllDrives", "true"),
                ("includeItemsFromAllDrives", "true"),
            ],
        )
        .await;
    assert_eq!(all["changes"][4]["driveId"], team);

    // Paging: nextPageToken on every page but the last, newStartPageToken only there.
    let mut token = start.clone();
    let mut ids = Vec::new();
    loop {
        let (_, p) = e
            .json("/changes", &[("pageToken", &token), ("pageSize", "2")])
            .await;
        ids.extend(
            p["changes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["fileId"].clone()),
        );
        match p["nextPageToken"].as_str() {
            Some(t) => {
                assert!(p.get("newStartPageToken").is_none());
                token = t.to_string();
            }
            None => {
                assert_eq!(p["newStartPageToken"], new_start.as_str());
                break;
            }
        }
    }
    assert_eq!(ids, [json!(a), json!(b), json!(c), json!(gone)]);

    let (_, empty) = e.json("/changes", &[("pageToken", &new_start)]).await;
    assert_eq!(empty["changes"], json!([]));
    d.rename(&a, "a2");
    let (_, one) = e.json("/changes", &[("pageToken", &new_start)]).await;
    assert_eq!(one["changes"][0]["file"]["name"], "a2");

    let (status, err) = e.json("/changes", &[]).await;
    assert_eq!((status, reason(&err)), (400, "required"));
    for bad in ["garbage", "0", "99999"] {
        let (status, err) = e.json("/changes", &[("pageToken", bad)]).await;
        assert_eq!((status, reason(&err)), (400, "invalid"), "{bad}");
    }
}

fn pkce() -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let verifier = "a-verifier-that-is-long-enough-for-pkce-0123456789".to_string();
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

async fn authorize(e: &Env, offline: bool, challenge: &str) -> String {
    let mut q = vec![
        ("client_id", FakeDrive::CLIENT_ID),
        ("redirect_uri", "http://127.0.0.1:9/cb"),
        ("response_type", "code"),
        ("scope", "https://www.googleapis.com/auth/drive.readonly"),
        ("state", "st8"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    if offline {
        q.push(("access_type", "offline"));
    }
    let r = e
        .http
        .get(e.drive.auth_url())
        .query(&q)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(loc.path(), "/cb");
    let pairs: Vec<(String, String)> = loc.query_pairs().into_owned().collect();
    assert!(pairs.contains(&("state".into(), "st8".into())));
    pairs.into_iter().find(|(k, _)| k == "code").unwrap().1
}

async fn token(e: &Env, form: &[(&str, &str)]) -> (u16, Value) {
    let r = e
        .http
        .post(e.drive.token_url())
        .form(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn oauth_code_exchange_refresh_rotation_and_revocation() {
    let e = env().await;
    let (verifier, challenge) = pkce();
    let code = authorize(&e, true, &challenge).await;
    let params = e.drive.last_authorize_params().unwrap();
    assert!(params.contains(&("access_type".into(), "offline".into())));
    let creds = [
        ("client_id", FakeDrive::CLIENT_ID),
        ("client_secret", FakeDrive::CLIENT_SECRET),
    ];
    let exchange = |code: String, verifier: String| {
        let e = &e;
        async move {
            let mut f = creds.to_vec();
            f.extend([
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/cb"),
                ("code_verifier", &verifier),
            ]);
            token(e, &f).await
        }
    };
    let (status, bad) = exchange(code.clone(), "wrong-verifier".into()).await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let code = authorize(&e, true, &challenge).await;
    let (status, tok) = exchange(code.clone(), verifier.clone()).await;
    assert_eq!(status, 200, "{tok}");
    assert_eq!(
        (tok["token_type"].as_str(), tok["expires_in"].as_u64()),
        (Some("Bearer"), Some(3600))
    );
    assert_eq!(
        tok["scope"],
        "https://www.googleapis.com/auth/drive.readonly"
    );
    let refresh = tok["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        exchange(code, verifier.clone()).await.0,
        400,
        "a code works once"
    );
    let online = authorize(&e, false, &challenge).await;
    let (_, tok2) = exchange(online, verifier.clone()).await;
    assert!(
        tok2.get("refresh_token").is_none(),
        "no refresh token without offline access"
    );

    let access = tok["access_token"].as_str().unwrap();
    let ui = e
        .http
        .get(e.drive.userinfo_url())
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ui.json::<Value>().await.unwrap(),
        json!({"sub": "1234", "email": "user@example.com", "email_verified": true})
    );

    let (status, bad) = token(
        &e,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "nope"),
            ("client_secret", "x"),
        ],
    )
    .await;
    assert_eq!(
        (status, bad["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // HTTP Basic client authentication works too.
    let r = e
        .http
        .post(e.drive.token_url())
        .basic_auth(FakeDrive::CLIENT_ID, Some(FakeDrive::CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let fresh: Value = r.json().await.unwrap();
    assert!(fresh.get("refresh_token").is_none());
    let fresh_access = fresh["access_token"].as_str().unwrap();
    let ok = e
        .http
        .get(format!("{}/about", e.drive.api_base()))
        .query(&[("fields", "user")])
        .bearer_auth(fresh_access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    e.drive.set_rotate_refresh_tokens(true);
    let mut f = creds.to_vec();
    f.extend([
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ]);
    let (_, rotated) = token(&e, &f).await;
    let newer = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(token(&e, &f).await.0, 400, "the rotated-out token is dead");

    e.drive.revoke_refresh_tokens();
    let mut f = creds.to_vec();
    f.extend([
        ("grant_type", "refresh_token"),
        ("refresh_token", newer.as_str()),
    ]);
    assert_eq!(
        token(&e, &f).await,
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."})
        )
    );

    let (victim, _) = e.drive.issue_tokens();
    let r = e
        .http
        .post(e.drive.revoke_url())
        .query(&[("token", &victim)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = e
        .http
        .get(format!("{}/files", e.drive.api_base()))
        .bearer_auth(&victim)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = e
        .http
        .post(e.drive.revoke_url())
        .form(&[("token", "unknown")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let c = e.drive.counts();
    assert_eq!((c.token_code, c.token_refresh, c.total_api), (4, 5, 2));

    let r = e
        .http
        .get(e.drive.auth_url())
        .query(&[
            ("client_id", "other"),
            ("redirect_uri", "http://x/"),
            ("response_type", "code"),
            ("scope", "s"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn faults_fire_deterministically() {
    let e = env().await;
    let f = e.drive.add_file(
        &["root"],
        "big",
        "application/octet-stream",
        vec![7u8; 200_000],
    );
    e.drive.inject(
        Target::List,
        Fault::RateLimit429 {
            retry_after: Some(3),
        },
        2,
        Some(1),
    );
    let statuses = {
        let mut v = Vec::new();
        for _ in 0..4 {
            let r = e.call("/files", &[]).await;
            v.push((
                r.status().as_u16(),
                r.headers()
                    .get("retry-after")
                    .map(|h| h.to_str().unwrap().to_string()),
            ));
            if r.status() == 429 {
                let body: Value = r.json().await.unwrap();
                assert_eq!(reason(&body), "rateLimitExceeded");
            }
        }
        v
    };
    assert_eq!(
        statuses,
        [
            (200, None),
            (429, Some("3".into())),
            (200, None),
            (200, None)
        ]
    );
    e.drive.clear_faults();

    e.drive.inject(
        Target::AnyApi,
        Fault::RateLimit403 { retry_after: None },
        1,
        Some(1),
    );
    let (status, body) = e.json("/changes/startPageToken", &[]).await;
    assert_eq!((status, reason(&body)), (403, "userRateLimitExceeded"));
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
    e.drive.inject(Target::Get, Fault::Status500, 1, None);
    e.drive.inject(Target::Drives, Fault::Status503, 1, None);
    assert_eq!(e.json(&format!("/files/{f}"), &[]).await.0, 500);
    assert_eq!(e.json("/drives", &[]).await.0, 503);
    e.drive.clear_faults();

    e.drive.inject(
        Target::StartPageToken,
        Fault::Slow(Duration::from_millis(200)),
        1,
        None,
    );
    let t = Instant::now();
    assert_eq!(e.json("/changes/startPageToken", &[]).await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(200));
    e.drive.clear_faults();

    e.drive
        .inject(Target::Media, Fault::DropMidDownload, 1, Some(1));
    let r = e.call(&format!("/files/{f}"), &[("alt", "media")]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "200000");
    assert!(r.bytes().await.is_err(), "the body must be cut short");
    let r = e.call(&format!("/files/{f}"), &[("alt", "media")]).await;
    assert_eq!(r.bytes().await.unwrap().len(), 200_000, "the limit was one");

    let c = e.drive.counts();
    assert_eq!(
        c,
        Counts {
            list: 4,
            get: 1,
            media: 2,
            changes: 0,
            start_page_token: 2,
            drives: 1,
            total_api: 10,
            ..Counts::default()
        }
    );
    e.drive.reset_counts();
    assert_eq!(e.drive.counts(), Counts::default());

    e.drive.inject(Target::Token, Fault::Status503, 1, Some(1));
    let (_, refresh) = e.drive.issue_tokens();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", FakeDrive::CLIENT_ID),
        ("client_secret", FakeDrive::CLIENT_SECRET),
    ];
    assert_eq!(token(&e, &form).await.0, 503);
    assert_eq!(token(&e, &form).await.0, 200);
}

#[tokio::test]
async fn mutations_bump_version_and_metadata() {
    let e = env().await;
    let d = &e.drive;
    let a = d.add_folder("root", "a");
    let b = d.add_folder("root", "b");
    let inner = d.add_folder(&a, "inner");
    let f = d.add_file(&[&inner], "f.txt", "text/plain", "one");
    let before = d.metadata(&f).unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    d.update_content(&f, "two!");
    let after = d.metadata(&f).unwrap();
    assert_eq!(
        (after["version"].as_str(), after["size"].as_str()),
        (Some("2"), Some("4"))
    );
    assert_ne!(before["headRevisionId"], after["headRevisionId"]);
    assert!(after["modifiedTime"].as_str() > before["modifiedTime"].as_str());
    assert_eq!(d.content(&f), b"two!");
    d.move_to(&inner, &[&b]);
    assert_eq!(d.metadata(&inner).unwrap()["parents"], json!([b]));
    assert_eq!(e.list_names(&format!("'{b}' in parents")).await, ["inner"]);
    d.trash(&b);
    let m = d.metadata(&f).unwrap();
    assert_eq!(
        (m["trashed"].as_bool(), m["explicitlyTrashed"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(d.metadata(&b).unwrap()["explicitlyTrashed"], true);
    d.delete(&b);
    assert!(d.metadata(&inner).is_none() && d.metadata(&f).is_none());
    assert_eq!(d.all_ids(), [a]);
    let team = d.add_shared_drive("T");
    assert_eq!(team.len(), 19);
    let (_, root) = e.json("/files/root", &[("fields", "id,name")]).await;
    assert_eq!(root, json!({"id": d.root_id(), "name": "My Drive"}));
}

#[tokio::test]
async fn drives_page_and_unknown_drives_are_not_found() {
    let e = env().await;
    let ids: Vec<String> = (0..3)
        .map(|i| e.drive.add_shared_drive(&format!("D{i}")))
        .collect();
    let (_, p1) = e.json("/drives", &[("pageSize", "2")]).await;
    assert_eq!(p1["drives"].as_array().unwrap().len(), 2);
    let t = p1["nextPageToken"].as_str().unwrap();
    let (_, p2) = e
        .json("/drives", &[("pageSize", "2"), ("pageToken", t)])
        .await;
    assert_eq!(p2["drives"][0]["id"], ids[2].as_str());
    assert!(p2.get("nextPageToken").is_none());
    assert_eq!(e.json("/drives", &[("pageSize", "101")]).await.0, 400);
    let (_, one) = e.json(&format!("/drives/{}", ids[1]), &[]).await;
    assert_eq!(
        one,
        json!({"kind": "drive#drive", "id": ids[1], "name": "D1"})
    );
    let (status, err) = e
        .json(
            "/files",
            &[
                ("corpora", "drive"),
                ("driveId", "0Anope"),
                ("supportsAllDrives", "true"),
                ("includeItemsFromAllDrives", "true"),
            ],
        )
        .await;
    assert_eq!((status, reason(&err)), (404, "notFound"));
    assert_eq!(e.json("/about", &[]).await.0, 400, "about.get needs fields");
    let (_, about) = e.json("/about", &[("fields", "user(emailAddress)")]).await;
    assert_eq!(about, json!({"user": {"emailAddress": "user@example.com"}}));
}

#[tokio::test]
async fn the_server_stops_with_its_last_clone() {
    let e = env().await;
    let base = e.drive.api_base();
    let clone = e.drive.clone();
    drop(e.drive);
    let fresh = reqwest::Client::new();
    let r = fresh
        .get(format!("{base}/files"))
        .bearer_auth(&e.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "a clone keeps it running");
    drop(clone);
    tokio::task::yield_now().await;
    let fresh = reqwest::Client::new();
    assert!(fresh.get(format!("{base}/files")).send().await.is_err());
}
