//! A config whose filters change stays correct (issue 14): widening brings in every file already
//! in the new scope, though the change feed would never mention them; narrowing marks the files
//! now out of scope `excluded` (objects kept); widening again restores them without a download;
//! and no file is downloaded twice. Against the real Drive component and the fake Drive, whose
//! change feed is what a stale cursor would silently trust.

use p8sync::store::{FileStatus, SyncConfig};
use p8sync_e2e::drive_sync::*;
use std::collections::BTreeMap;

/// The drive: `Documents` and `Work`, text and PDF files, one large file.
struct Files {
    docs: Vec<String>,
    work: Vec<String>,
    pdf: String,
    big: String,
}

fn populate(d: &Drive) -> Files {
    let root = d.fake.root_id();
    let documents = d.fake.add_folder(&root, "Documents");
    let work = d.fake.add_folder(&root, "Work");
    let docs = (0..3)
        .map(|i| {
            d.fake.add_file(
                &[&documents],
                &format!("d{i}.txt"),
                "text/plain",
                format!("doc {i}"),
            )
        })
        .collect();
    let mut work_files: Vec<String> = (0..3)
        .map(|i| {
            d.fake.add_file(
                &[&work],
                &format!("w{i}.txt"),
                "text/plain",
                format!("work {i}"),
            )
        })
        .collect();
    let pdf = d.fake.add_file(
        &[&work],
        "report.pdf",
        "application/pdf",
        b"%PDF-1.4 tiny".to_vec(),
    );
    let big = d
        .fake
        .add_file(&[&work], "big.txt", "text/plain", vec![b'x'; 5000]);
    work_files.extend([pdf.clone(), big.clone()]);
    Files {
        docs,
        work: work_files,
        pdf,
        big,
    }
}

/// One narrowing of the scope: the reason files get, the change, the files it leaves out.
type Narrowing<'a> = (&'static str, fn(&mut SyncConfig), Vec<&'a String>);

/// Change the stored config's filters, keeping its cursor (as an API update does).
async fn refilter(d: &Drive, change: impl FnOnce(&mut SyncConfig)) {
    let mut config = d.h.config().await;
    change(&mut config);
    d.h.store.put_config(&config).await.unwrap();
}

/// Status and reason of every row, by remote id.
async fn states(d: &Drive) -> BTreeMap<String, (FileStatus, Option<String>, bool)> {
    d.h.rows()
        .await
        .into_iter()
        .map(|(id, f)| (id, (f.status, f.error_message, f.s3_uri.is_some())))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn widening_and_narrowing_each_filter_keeps_the_sync_correct() {
    let d = drive().await;
    let files = populate(&d);
    let all: Vec<&String> = files.docs.iter().chain(&files.work).collect();

    // Only Documents: three files, and a change cursor saved under that scope.
    refilter(&d, |c| c.include_folders = vec!["Documents".into()]).await;
    let r = d.h.sync().await;
    assert_eq!(r.files_synced, 3, "{}", r.message);
    assert!(d.h.config().await.change_cursor.is_some());
    assert_eq!(d.fake.counts().media, 3);

    // Widened to Work too. Nothing changed in the drive, so the feed says nothing; the files
    // already in Work must still arrive, and Documents' are not downloaded again.
    refilter(&d, |c| {
        c.include_folders = vec!["Documents".into(), "Work".into()]
    })
    .await;
    d.fake.reset_counts();
    let r = d.h.sync().await;
    assert_eq!(
        r.files_synced, 5,
        "every file already in Work: {}",
        r.message
    );
    assert_eq!(r.files_unchanged, 3, "{}", r.message);
    assert_eq!(d.fake.counts().media, 5, "only Work's files are downloaded");
    assert!(d.fake.counts().list > 0, "a full listing, once");

    // The same scope again: the feed is trusted, nothing is listed or downloaded.
    d.fake.reset_counts();
    let r = d.h.sync().await;
    assert_eq!((r.files_synced, r.files_skipped), (0, 0), "{}", r.message);
    let counts = d.fake.counts();
    assert_eq!((counts.list, counts.media), (0, 0), "{counts:?}");
    assert!(counts.changes > 0);

    // Narrowed, one kind of filter at a time: the files now out of scope are excluded with
    // why, their objects kept; nothing is downloaded.
    let narrowings: [Narrowing; 5] = [
        (
            // Drive takes included folders itself and lists only those: the files of Work are
            // not listed at all, and are excluded, not taken for deleted.
            "not under an included folder",
            |c| c.include_folders = vec!["Documents".into()],
            files.work.iter().collect(),
        ),
        (
            "file type not included",
            |c| c.include_file_types = vec!["txt".into()],
            vec![&files.pdf],
        ),
        (
            "file type `pdf` is excluded",
            |c| c.exclude_file_types = vec!["pdf".into()],
            vec![&files.pdf],
        ),
        (
            "over the 1000 byte limit",
            |c| c.max_file_size = Some(1000),
            vec![&files.big],
        ),
        (
            "under the excluded folder `Work`",
            |c| c.exclude_folders = vec!["Work".into()],
            files.work.iter().collect(),
        ),
    ];
    for (reason, narrow, out) in narrowings {
        refilter(&d, narrow).await;
        d.fake.reset_counts();
        let r = d.h.sync().await;
        assert_eq!(r.files_synced, 0, "{reason}: {}", r.message);
        assert_eq!(d.fake.counts().media, 0, "{reason}: nothing is downloaded");
        let now = states(&d).await;
        for id in &all {
            let (status, message, has_object) = &now[id.as_str()];
            if out.contains(id) {
                assert_eq!(*status, FileStatus::Excluded, "{reason}: {id}");
                assert!(
                    message.as_deref().unwrap_or_default().contains(reason),
                    "{reason}: {id} says {message:?}"
                );
                assert!(has_object, "{reason}: {id}'s object is kept");
            } else {
                assert_eq!(*status, FileStatus::Synced, "{reason}: {id} stays synced");
            }
        }

        // Widened back to everything: the excluded files are restored as they were, with no
        // download, because their content did not change.
        refilter(&d, |c| {
            c.include_folders = vec![];
            c.exclude_folders = vec![];
            c.include_file_types = vec![];
            c.exclude_file_types = vec![];
            c.max_file_size = None;
        })
        .await;
        d.fake.reset_counts();
        let r = d.h.sync().await;
        assert_eq!(r.files_synced, 0, "{reason}, widened: {}", r.message);
        assert_eq!(d.fake.counts().media, 0, "{reason}, widened: no download");
        let now = states(&d).await;
        for id in &all {
            assert_eq!(
                now[id.as_str()].0,
                FileStatus::Synced,
                "{reason}, widened: {id}"
            );
        }
    }

    // A file that changed while it was out of scope is downloaded when it comes back.
    refilter(&d, |c| c.exclude_folders = vec!["Work".into()]).await;
    d.h.sync().await;
    d.fake.update_content(&files.work[0], "work 0, edited");
    refilter(&d, |c| c.exclude_folders = vec![]).await;
    d.fake.reset_counts();
    let r = d.h.sync().await;
    assert_eq!(r.files_synced, 1, "{}", r.message);
    assert_eq!(d.fake.counts().media, 1);
    let row = &d.h.rows().await[files.work[0].as_str()];
    d.h.assert_stored(row, "edited", b"work 0, edited").await;

    // `--full` lists everything with the scope unchanged, and finds nothing to do.
    d.fake.reset_counts();
    let options = p8sync::sync::SyncOptions {
        full: true,
        ..options()
    };
    let r = d.h.run(options).await.unwrap();
    assert_eq!((r.files_synced, r.files_unchanged), (0, 8), "{}", r.message);
    let counts = d.fake.counts();
    assert!(counts.list > 0 && counts.media == 0, "{counts:?}");
}
