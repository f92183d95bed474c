//! Runs one parsed command against the API and prints its result.

use std::io::{Read, Write};
use std::path::Path;

use cohort_api::{
    AnchorState, Api, ApiError, ApiResult, DocId, DocKind, DocSummary, ErrorCode, Role, SpaceId,
    Splice, ThreadKind, utf16_len,
};
use serde::Serialize;
use serde_json::json;

use crate::args::{
    BodyArgs, Command, CourseCmd, DeviceCmd, Format, InviteCmd, JournalCmd, KindArg, LessonCmd,
    MemberCmd, ModuleCmd, NoteCmd, RoleArg, SpaceCmd, SyncCmd, ThreadCmd, ThreadKindArg,
};

fn io_err(e: std::io::Error) -> ApiError {
    ApiError {
        code: ErrorCode::Internal,
        message: format!("cannot write output: {e}"),
    }
}

/// Prints `value` as JSON, or runs `human` to print it for people.
fn emit<T: Serialize, W: Write>(
    out: &mut W,
    json: bool,
    value: &T,
    human: impl FnOnce(&mut W) -> std::io::Result<()>,
) -> ApiResult<()> {
    if json {
        let text = serde_json::to_string_pretty(value).map_err(|e| ApiError {
            code: ErrorCode::Internal,
            message: format!("cannot encode JSON: {e}"),
        })?;
        writeln!(out, "{text}").map_err(io_err)
    } else {
        human(out).map_err(io_err)
    }
}

fn read_file(path: &Path) -> ApiResult<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| ApiError::invalid(format!("cannot read standard input: {e}")))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| ApiError {
        code: if e.kind() == std::io::ErrorKind::NotFound {
            ErrorCode::NotFound
        } else {
            ErrorCode::InvalidInput
        },
        message: format!("cannot read {}: {e}", path.display()),
    })
}

fn body_text(args: &BodyArgs) -> ApiResult<Option<String>> {
    match (&args.body, &args.body_file) {
        (Some(b), _) => Ok(Some(b.clone())),
        (None, Some(path)) => {
            let bytes = read_file(path)?;
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| ApiError::invalid(format!("{} is not UTF-8 text", path.display())))
        }
        (None, None) => Ok(None),
    }
}

/// The space named, or by default your only cohort, else the personal space.
fn space_or_default(api: &mut Api, space: Option<&str>) -> ApiResult<SpaceId> {
    if let Some(s) = space {
        return api.resolve_space(s);
    }
    let cohorts: Vec<_> = api.spaces()?.into_iter().filter(|s| !s.personal).collect();
    Ok(match cohorts.as_slice() {
        [one] => one.id,
        _ => api.personal_space(),
    })
}

fn opt_space(api: &mut Api, space: Option<&str>) -> ApiResult<Option<SpaceId>> {
    space.map(|s| api.resolve_space(s)).transpose()
}

fn kind_of(k: KindArg) -> DocKind {
    match k {
        KindArg::Course => DocKind::Course,
        KindArg::Lesson => DocKind::Lesson,
        KindArg::Thread => DocKind::Thread,
        KindArg::Note => DocKind::Note,
        KindArg::Journal => DocKind::JournalEntry,
        KindArg::Charter => DocKind::Charter,
    }
}

fn thread_kind(k: ThreadKindArg) -> ThreadKind {
    match k {
        ThreadKindArg::Question => ThreadKind::Question,
        ThreadKindArg::Idea => ThreadKind::Idea,
        ThreadKindArg::HowTo => ThreadKind::HowTo,
    }
}

/// Parses `POS:DEL:TEXT`.
fn parse_splice(text: &str) -> ApiResult<Splice> {
    let mut parts = text.splitn(3, ':');
    let bad = || ApiError::invalid(format!("{text:?} is not a splice POS:DELETE:TEXT"));
    let pos = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let delete = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let insert = parts.next().unwrap_or_default().to_owned();
    Ok(Splice {
        pos,
        delete,
        insert,
    })
}

/// The UTF-16 range of the first occurrence of `quote` in `body`.
fn find_quote(body: &str, quote: &str) -> ApiResult<(usize, usize)> {
    if quote.is_empty() {
        return Err(ApiError::invalid("the quote is empty"));
    }
    let byte = body.find(quote).ok_or_else(|| ApiError {
        code: ErrorCode::NotFound,
        message: format!("the lesson does not contain {quote:?}"),
    })?;
    let start = utf16_len(&body[..byte]);
    Ok((start, start + utf16_len(quote)))
}

fn parse_range(text: &str) -> ApiResult<(usize, usize)> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| ApiError::invalid(format!("{text:?} is not a range START..END")))?;
    let parse = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|_| ApiError::invalid(format!("{text:?} is not a range START..END")))
    };
    Ok((parse(a)?, parse(b)?))
}

fn guess_mime(path: &Path) -> &'static str {
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("gif") => "image/gif",
        Some("svg") => "image/svg+xml",
        Some("pdf") => "application/pdf",
        Some("md" | "markdown") => "text/markdown",
        Some("txt") => "text/plain",
        Some("html" | "htm") => "text/html",
        Some("mp3") => "audio/mpeg",
        Some("mp4") => "video/mp4",
        _ => "application/octet-stream",
    }
}

fn print_list<W: Write>(out: &mut W, rows: &[DocSummary]) -> std::io::Result<()> {
    if rows.is_empty() {
        return writeln!(out, "(none)");
    }
    for r in rows {
        let extra = match r.kind {
            DocKind::Thread => {
                let posts = r.info.get("posts").and_then(|v| v.as_u64()).unwrap_or(0);
                let kind = r
                    .info
                    .get("thread_kind")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                let solved = if r.info.get("accepted").is_some_and(|v| !v.is_null()) {
                    ", answered"
                } else {
                    ""
                };
                let plural = if posts == 1 { "" } else { "s" };
                format!("  [{kind}, {posts} post{plural}{solved}]")
            }
            DocKind::Course => {
                let lessons = r.info.get("lessons").and_then(|v| v.as_u64()).unwrap_or(0);
                let plural = if lessons == 1 { "" } else { "s" };
                format!("  [{lessons} lesson{plural}]")
            }
            _ => String::new(),
        };
        writeln!(out, "{}  {}{extra}", r.id.short(), r.title)?;
    }
    Ok(())
}

fn created<W: Write>(
    out: &mut W,
    json: bool,
    what: &str,
    id: impl std::fmt::Display,
) -> ApiResult<()> {
    let id = id.to_string();
    emit(out, json, &json!({ "id": id }), |o| {
        writeln!(o, "{what} {id}")
    })
}

/// Runs one command.
pub fn run<W: Write>(api: &mut Api, command: Command, json: bool, out: &mut W) -> ApiResult<()> {
    match command {
        Command::Init { name } => {
            if let Some(name) = name {
                api.set_display_name(&name)?;
            }
            let me = api.me()?;
            emit(out, json, &me, |o| {
                writeln!(o, "Data dir {} is ready.", api_root_display(api))?;
                writeln!(
                    o,
                    "You are {} (person {}).",
                    me.display_name,
                    me.person.short()
                )
            })
        }
        Command::Me => {
            let me = api.me()?;
            emit(out, json, &me, |o| {
                writeln!(o, "{} (person {})", me.display_name, me.person)?;
                writeln!(o, "personal space {}", me.personal_space)?;
                writeln!(o, "device {}", me.device)
            })
        }
        Command::Rename { name } => {
            api.set_display_name(&name)?;
            emit(out, json, &json!({ "display_name": name }), |o| {
                writeln!(o, "You are now {name}.")
            })
        }
        Command::Sample => {
            let course = api.create_sample()?;
            emit(out, json, &json!({ "course": course }), |o| {
                writeln!(o, "Created the sample course {course}.")?;
                writeln!(o, "Try: cohort course show {}", course.short())
            })
        }
        Command::Space(cmd) => space(api, cmd, json, out),
        Command::Course(cmd) => course(api, cmd, json, out),
        Command::Module(ModuleCmd::Add { course, title }) => {
            let course = api.resolve(&course, Some(DocKind::Course))?;
            let id = api.add_module(course, &title)?;
            created(out, json, "Added module", id)
        }
        Command::Lesson(cmd) => lesson(api, cmd, json, out),
        Command::Thread(cmd) => thread(api, cmd, json, out),
        Command::Note(cmd) => note(api, cmd, json, out),
        Command::Journal(cmd) => journal(api, cmd, json, out),
        Command::Search {
            query,
            space,
            kind,
            limit,
        } => {
            let space = opt_space(api, space.as_deref())?;
            let kinds: Vec<DocKind> = kind.into_iter().map(kind_of).collect();
            let hits = api.search(
                &query,
                space,
                (!kinds.is_empty()).then_some(kinds.as_slice()),
                limit,
            )?;
            emit(out, json, &hits, |o| {
                if hits.is_empty() {
                    return writeln!(o, "No results for {query:?}.");
                }
                for h in &hits {
                    writeln!(o, "{}  {} {:?}", h.doc.short(), h.kind, h.title)?;
                    writeln!(o, "          {}", marked(&h.snippet, &h.highlights))?;
                }
                Ok(())
            })
        }
        Command::History { doc } => {
            let id = api.resolve(&doc, None)?;
            let history = api.history(id)?;
            emit(out, json, &history, |o| {
                for h in &history {
                    let who = h
                        .author
                        .clone()
                        .unwrap_or_else(|| h.actor.chars().take(8).collect());
                    writeln!(
                        o,
                        "{}  {}  {:<16} {} ({} ops)",
                        &h.hash[..12.min(h.hash.len())],
                        format_time(h.at.millis()),
                        who,
                        h.message,
                        h.ops
                    )?;
                }
                Ok(())
            })
        }
        Command::Export {
            doc,
            format,
            output,
        } => {
            let id = api.resolve(&doc, None)?;
            let bytes = match format {
                Format::Automerge => api.export_automerge(id)?,
                Format::Json => {
                    let value = api.export_json(id)?;
                    let mut text = serde_json::to_vec_pretty(&value).map_err(|e| ApiError {
                        code: ErrorCode::Internal,
                        message: format!("cannot encode JSON: {e}"),
                    })?;
                    text.push(b'\n');
                    text
                }
            };
            match output {
                Some(path) => {
                    write_atomic(&path, &bytes)?;
                    emit(
                        out,
                        json,
                        &json!({ "id": id, "file": path, "bytes": bytes.len() }),
                        |o| writeln!(o, "Wrote {} bytes to {}", bytes.len(), path.display()),
                    )
                }
                None => out.write_all(&bytes).map_err(io_err),
            }
        }
        Command::Import { file } => {
            let bytes = read_file(&file)?;
            let id = api.import_automerge(&bytes)?;
            let summary = api.summary(id)?;
            emit(out, json, &summary, |o| {
                writeln!(o, "Imported {} {} {:?}", summary.kind, id, summary.title)
            })
        }
        Command::Delete { doc } => {
            let id = api.resolve(&doc, None)?;
            api.delete(id)?;
            emit(out, json, &json!({ "id": id, "deleted": true }), |o| {
                writeln!(o, "Deleted {id}")
            })
        }
        Command::Compact => {
            api.compact()?;
            let stats = api.stats()?;
            emit(out, json, &stats, |o| {
                writeln!(
                    o,
                    "Compacted: {} documents, {} bytes on disk",
                    stats.docs, stats.file_bytes
                )
            })
        }
        Command::Stats => {
            let stats = api.stats()?;
            emit(out, json, &stats, |o| {
                writeln!(o, "documents       {}", stats.docs)?;
                writeln!(o, "pending chunks  {}", stats.chunks)?;
                writeln!(o, "snapshot bytes  {}", stats.snapshot_bytes)?;
                writeln!(o, "chunk bytes     {}", stats.chunk_bytes)?;
                writeln!(o, "file bytes      {}", stats.file_bytes)
            })
        }
        Command::Check => {
            let bad = api.check()?;
            let report: Vec<_> = bad
                .iter()
                .map(|(id, why)| json!({ "id": id, "problem": why }))
                .collect();
            emit(
                out,
                json,
                &json!({ "ok": bad.is_empty(), "bad": report }),
                |o| {
                    if bad.is_empty() {
                        writeln!(o, "OK: the database is intact and every document loads.")
                    } else {
                        for (id, why) in &bad {
                            writeln!(o, "{id}: {why}")?;
                        }
                        Ok(())
                    }
                },
            )?;
            if bad.is_empty() {
                Ok(())
            } else {
                Err(ApiError {
                    code: ErrorCode::InvalidDocument,
                    message: format!("{} documents do not load", bad.len()),
                })
            }
        }
        Command::Batch => Err(ApiError::invalid("batch runs only as a top-level command")),
        Command::Serve(_) => Err(ApiError::invalid("serve runs only as a top-level command")),
        Command::Invite(InviteCmd::Create {
            space,
            role,
            uses,
            expires,
        }) => {
            let space = api.resolve_space(&space)?;
            let days = parse_days(&expires)?;
            let invite = api.invite_create(space, Some(role_of(role)), Some(uses), Some(days))?;
            emit(out, json, &invite, |o| {
                writeln!(o, "{}", invite.ticket)?;
                writeln!(
                    o,
                    "\nInvites {} {} as {} until {} UTC. Hand the line above to them; they run:\n  cohort join <ticket>",
                    invite.uses,
                    if invite.uses == 1 { "person" } else { "people" },
                    invite.role.as_str(),
                    format_time(invite.expires_at.millis())
                )?;
                if invite.addrs.is_empty() {
                    writeln!(
                        o,
                        "(no network address is known yet: run `cohort serve` so they can reach you)"
                    )?;
                }
                Ok(())
            })
        }
        Command::Join { ticket, .. } => {
            let joined = api.join(&ticket)?;
            emit(out, json, &joined, |o| {
                writeln!(
                    o,
                    "Ticket accepted for cohort {}. A member admits this device when it connects.",
                    joined.space.short()
                )
            })
        }
        Command::Peers => {
            let peers = api.peers()?;
            emit(out, json, &peers, |o| {
                if peers.is_empty() {
                    writeln!(o, "No peers seen yet.")?;
                }
                for p in &peers {
                    let state = if p.connected {
                        "connected".to_owned()
                    } else {
                        match p.last_seen {
                            Some(t) => format!("last seen {}", format_time(t.millis())),
                            None => "never connected".to_owned(),
                        }
                    };
                    writeln!(
                        o,
                        "{}  {:<20} {:<28} {}",
                        p.device.get(..12).unwrap_or(&p.device),
                        p.name.as_deref().unwrap_or("(unknown)"),
                        state,
                        p.addr.as_deref().unwrap_or("")
                    )?;
                }
                Ok(())
            })
        }
        Command::Sync(SyncCmd::Status) => {
            let status = api.sync_status()?;
            emit(out, json, &status, |o| {
                for s in &status {
                    let last = s
                        .last_sync
                        .map(|t| format_time(t.millis()))
                        .unwrap_or_else(|| "never".into());
                    write!(
                        o,
                        "{}  {:<28} peers {:<3} pending {:<5} last sync {last}",
                        s.space.short(),
                        s.name,
                        s.peers,
                        s.pending
                    )?;
                    if s.indexing > 0 {
                        write!(o, "  indexing {} received", s.indexing)?;
                    }
                    match &s.joining {
                        Some(j) => writeln!(o, "  joining: {j}")?,
                        None => writeln!(o)?,
                    }
                }
                Ok(())
            })
        }
        Command::Sync(SyncCmd::Now { .. }) => {
            api.sync_now()?;
            emit(out, json, &serde_json::Value::Null, |o| {
                writeln!(o, "Syncing with known peers.")
            })
        }
        Command::Member(MemberCmd::List { space }) => {
            let space = api.resolve_space(&space)?;
            let members = api.members(space)?;
            emit(out, json, &members, |o| {
                for m in &members {
                    let you = if m.you { " (you)" } else { "" };
                    writeln!(
                        o,
                        "{}  {}{you}  {}",
                        m.person.short(),
                        m.name,
                        m.role.as_str()
                    )?;
                }
                Ok(())
            })
        }
        Command::Member(MemberCmd::Remove { space, member }) => {
            let space = api.resolve_space(&space)?;
            let members = api.members(space)?;
            let wanted = member.to_lowercase();
            let found: Vec<_> = members
                .iter()
                .filter(|m| {
                    m.name.to_lowercase() == wanted || m.person.to_string().starts_with(&wanted)
                })
                .collect();
            let person = match found.as_slice() {
                [one] => one.person,
                [] => {
                    return Err(ApiError {
                        code: ErrorCode::NotFound,
                        message: format!("no member {member:?} in this cohort"),
                    });
                }
                _ => {
                    return Err(ApiError::invalid(format!(
                        "{member:?} matches {} members; give their id",
                        found.len()
                    )));
                }
            };
            api.remove_member(space, person)?;
            emit(out, json, &serde_json::Value::Null, |o| {
                writeln!(o, "Removed {member} from the cohort.")
            })
        }
        Command::Device(DeviceCmd::Link { expires }) => {
            let minutes = parse_minutes(&expires)?;
            let link = api.device_link(Some(minutes))?;
            emit(out, json, &link, |o| {
                writeln!(o, "{}", link.ticket)?;
                writeln!(
                    o,
                    "\nLinks one new device to you until {} UTC. On that device, with a new data dir, run:\n  cohort device add <ticket>",
                    format_time(link.expires_at.millis())
                )?;
                if link.addrs.is_empty() {
                    writeln!(
                        o,
                        "(no network address is known yet: run `cohort serve` so the new device can reach this one)"
                    )?;
                }
                Ok(())
            })
        }
        Command::Device(DeviceCmd::Add { ticket, name, .. }) => {
            let added = api.device_add(&ticket, name.as_deref())?;
            emit(out, json, &added, |o| {
                writeln!(
                    o,
                    "Ticket accepted. Your other device links this one when they connect."
                )
            })
        }
        Command::Device(DeviceCmd::List) => {
            let devices = api.device_list()?;
            emit(out, json, &devices, |o| {
                for d in &devices {
                    let state = if d.this_device {
                        "this device".to_owned()
                    } else if d.connected {
                        "connected".to_owned()
                    } else {
                        match d.last_seen {
                            Some(t) => format!("last seen {}", format_time(t.millis())),
                            None => "not seen yet".to_owned(),
                        }
                    };
                    writeln!(
                        o,
                        "{}  {:<24} {}",
                        d.device.get(..12).unwrap_or(&d.device),
                        d.name,
                        state
                    )?;
                }
                Ok(())
            })
        }
        Command::Device(DeviceCmd::Remove { device }) => {
            api.device_remove(&device)?;
            emit(out, json, &serde_json::Value::Null, |o| {
                writeln!(
                    o,
                    "Removed {device}: it receives nothing new (it keeps what it already has)."
                )
            })
        }
    }
}

/// The snippet on one line with each match wrapped in `«»`.
fn marked(snippet: &str, highlights: &[[usize; 2]]) -> String {
    let mut out = String::with_capacity(snippet.len() + 4 * highlights.len());
    let mut at = 0;
    for [start, end] in highlights {
        if let (Some(before), Some(word)) = (snippet.get(at..*start), snippet.get(*start..*end)) {
            out.push_str(before);
            out.push('«');
            out.push_str(word);
            out.push('»');
            at = *end;
        }
    }
    out.push_str(snippet.get(at..).unwrap_or_default());
    out.replace('\n', " ")
}

fn api_root_display(api: &Api) -> String {
    api.root().display().to_string()
}

/// Writes a file via a temporary file and a rename, so a crash never leaves half a file.
fn write_atomic(path: &Path, bytes: &[u8]) -> ApiResult<()> {
    let fail = |e: std::io::Error| ApiError {
        code: ErrorCode::InvalidInput,
        message: format!("cannot write {}: {e}", path.display()),
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = std::path::PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(fail)?;
    file.write_all(bytes).map_err(fail)?;
    file.sync_all().map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(fail)
}

/// `YYYY-MM-DD HH:MM` in UTC.
fn format_time(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn space<W: Write>(api: &mut Api, cmd: SpaceCmd, json: bool, out: &mut W) -> ApiResult<()> {
    match cmd {
        SpaceCmd::New { name, purpose } => {
            let id = api.create_cohort(&name, &purpose)?;
            created(out, json, "Created cohort", id)
        }
        SpaceCmd::List => {
            let spaces = api.spaces()?;
            emit(out, json, &spaces, |o| {
                for s in &spaces {
                    let tag = if s.personal { " (private)" } else { "" };
                    writeln!(o, "{}  {}{tag}", s.id.short(), s.name)?;
                }
                Ok(())
            })
        }
        SpaceCmd::Show { space } => {
            let id = api.resolve_space(&space)?;
            let charter = api.charter(id)?;
            let members = api.members(id)?;
            let shown = json!({ "charter": charter, "members": members });
            emit(out, json, &shown, |o| {
                writeln!(o, "# {}", charter.name)?;
                if !charter.purpose.is_empty() {
                    writeln!(o, "\n{}", charter.purpose)?;
                }
                if !charter.norms.is_empty() {
                    writeln!(o, "\nNorms:")?;
                    for n in &charter.norms {
                        writeln!(o, "  - {n}")?;
                    }
                }
                for m in &charter.milestones {
                    let done = if m.done { "x" } else { " " };
                    writeln!(o, "  [{done}] {}", m.title)?;
                }
                writeln!(o, "\nMembers:")?;
                for m in &members {
                    let you = if m.you { " (you)" } else { "" };
                    writeln!(o, "  {}  {}{you}", m.name, m.role)?;
                }
                Ok(())
            })
        }
        SpaceCmd::Norm { space, norm } => {
            let id = api.resolve_space(&space)?;
            api.add_norm(id, &norm)?;
            emit(out, json, &json!({ "space": id, "norm": norm }), |o| {
                writeln!(o, "Added norm.")
            })
        }
    }
}

fn course<W: Write>(api: &mut Api, cmd: CourseCmd, json: bool, out: &mut W) -> ApiResult<()> {
    match cmd {
        CourseCmd::New {
            title,
            summary,
            space,
        } => {
            let space = space_or_default(api, space.as_deref())?;
            let id = api.create_course(space, &title, &summary)?;
            created(out, json, "Created course", id)
        }
        CourseCmd::List { space } => {
            let space = opt_space(api, space.as_deref())?;
            let rows = api.courses(space)?;
            emit(out, json, &rows, |o| print_list(o, &rows))
        }
        CourseCmd::Show { course } => {
            let id = api.resolve(&course, Some(DocKind::Course))?;
            let view = api.course(id)?;
            emit(out, json, &view, |o| {
                writeln!(o, "# {}  ({})", view.course.title, id.short())?;
                if !view.course.summary.is_empty() {
                    writeln!(o, "{}", view.course.summary)?;
                }
                for (i, m) in view.outline.iter().enumerate() {
                    writeln!(o, "\n## {}. {}", i + 1, m.title)?;
                    for l in &m.lessons {
                        let done = if l.completed { "x" } else { " " };
                        writeln!(o, "  [{done}] {}  {}", l.id.short(), l.title)?;
                    }
                }
                Ok(())
            })
        }
        CourseCmd::Edit {
            course,
            title,
            summary,
        } => {
            let id = api.resolve(&course, Some(DocKind::Course))?;
            api.update_course(id, title.as_deref(), summary.as_deref())?;
            created(out, json, "Updated course", id)
        }
    }
}

fn lesson<W: Write>(api: &mut Api, cmd: LessonCmd, json: bool, out: &mut W) -> ApiResult<()> {
    match cmd {
        LessonCmd::Add {
            course,
            title,
            module,
            body,
        } => {
            let course = api.resolve(&course, Some(DocKind::Course))?;
            let module = module.map(|m| api.resolve_module(course, &m)).transpose()?;
            let body = body_text(&body)?.unwrap_or_default();
            let id = api.add_lesson(course, module, &title, &body)?;
            created(out, json, "Added lesson", id)
        }
        LessonCmd::Show { lesson } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            let view = api.lesson(id)?;
            emit(out, json, &view, |o| {
                let l = &view.lesson;
                writeln!(o, "# {}  ({})", l.title, id.short())?;
                writeln!(o, "\n{}", l.body)?;
                if !l.checklist.is_empty() {
                    writeln!(o, "\nChecklist:")?;
                    for (i, item) in l.checklist.iter().enumerate() {
                        let done = view
                            .progress
                            .checklist
                            .get(&item.id)
                            .copied()
                            .unwrap_or(false);
                        let mark = if done { "x" } else { " " };
                        writeln!(o, "  #{} [{mark}] {}", i + 1, item.text)?;
                    }
                }
                if !l.questions.is_empty() {
                    writeln!(o, "\nSelf-check:")?;
                    for (i, q) in l.questions.iter().enumerate() {
                        writeln!(o, "  #{} {}", i + 1, q.prompt)?;
                        if let Some(a) = view.progress.answers.get(&q.id) {
                            writeln!(o, "     your answer: {a}   expected: {}", q.answer)?;
                        }
                    }
                }
                for a in &l.attachments {
                    writeln!(o, "  attachment: {} ({} bytes, {})", a.name, a.size, a.mime)?;
                }
                if !view.threads.is_empty() {
                    writeln!(o, "\nDiscussion:")?;
                    print_list(o, &view.threads)?;
                }
                if view.progress.completed_at.is_some() {
                    writeln!(o, "\nCompleted.")?;
                }
                Ok(())
            })
        }
        LessonCmd::Edit {
            lesson,
            title,
            body,
            splice,
        } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            let body = body_text(&body)?;
            if title.is_none() && body.is_none() && splice.is_empty() {
                return Err(ApiError::invalid(
                    "nothing to change: give --title, --body, --body-file or --splice",
                ));
            }
            if title.is_some() || body.is_some() {
                api.update_lesson(id, title.as_deref(), body.as_deref())?;
            }
            if !splice.is_empty() {
                let splices = splice
                    .iter()
                    .map(|s| parse_splice(s))
                    .collect::<ApiResult<Vec<_>>>()?;
                api.splice_lesson(id, &splices)?;
            }
            created(out, json, "Updated lesson", id)
        }
        LessonCmd::ChecklistAdd { lesson, text } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            let item = api.add_checklist_item(id, &text)?;
            created(out, json, "Added checklist item", item)
        }
        LessonCmd::Tick { lesson, item, undo } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            let item = api.resolve_checklist_item(id, &item)?;
            api.tick(id, item, !undo)?;
            emit(
                out,
                json,
                &json!({ "lesson": id, "item": item, "done": !undo }),
                |o| writeln!(o, "{}", if undo { "Unticked." } else { "Ticked." }),
            )
        }
        LessonCmd::QuestionAdd {
            lesson,
            prompt,
            answer,
            choice,
        } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            let q = api.add_question(id, &prompt, &answer, &choice)?;
            created(out, json, "Added question", q)
        }
        LessonCmd::Answer {
            lesson,
            question,
            answer,
        } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            let q = api.resolve_question(id, &question)?;
            let questions = api.lesson(id)?.lesson.questions;
            api.answer(id, q, &answer)?;
            let expected = questions
                .iter()
                .find(|x| x.id == q)
                .map(|x| x.answer.clone())
                .unwrap_or_default();
            emit(
                out,
                json,
                &json!({ "question": q, "answer": answer, "expected": expected }),
                |o| writeln!(o, "Recorded. Expected answer: {expected}"),
            )
        }
        LessonCmd::Complete { lesson, undo } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            api.complete_lesson(id, !undo)?;
            emit(
                out,
                json,
                &json!({ "lesson": id, "completed": !undo }),
                |o| {
                    writeln!(
                        o,
                        "{}",
                        if undo {
                            "Marked not complete."
                        } else {
                            "Marked complete."
                        }
                    )
                },
            )
        }
        LessonCmd::Attach { lesson, file, mime } => {
            let id = api.resolve(&lesson, Some(DocKind::Lesson))?;
            let data = read_file(&file)?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "attachment".into());
            let mime = mime.unwrap_or_else(|| guess_mime(&file).to_owned());
            let hash = api.attach(id, &name, &mime, &data)?;
            emit(out, json, &json!({ "hash": hash, "name": name }), |o| {
                writeln!(o, "Attached {name} ({hash})")
            })
        }
    }
}

fn thread<W: Write>(api: &mut Api, cmd: ThreadCmd, json: bool, out: &mut W) -> ApiResult<()> {
    match cmd {
        ThreadCmd::New {
            title,
            kind,
            body,
            lesson,
            quote,
            anchor,
            space,
        } => {
            let body = body_text(&body)?.unwrap_or_default();
            let lesson: Option<DocId> = lesson
                .map(|l| api.resolve(&l, Some(DocKind::Lesson)))
                .transpose()?;
            let space = match (lesson, space) {
                (Some(l), None) => api.summary(l)?.space,
                (_, s) => space_or_default(api, s.as_deref())?,
            };
            let range = match (lesson, quote, anchor) {
                (Some(l), Some(q), _) => Some(find_quote(&api.lesson(l)?.lesson.body, &q)?),
                (Some(_), None, Some(r)) => Some(parse_range(&r)?),
                _ => None,
            };
            let id = api.new_thread(space, thread_kind(kind), &title, &body, lesson, range)?;
            created(out, json, "Opened thread", id)
        }
        ThreadCmd::Reply { thread, body, to } => {
            let id = api.resolve(&thread, Some(DocKind::Thread))?;
            let to = to.map(|p| api.resolve_post(id, &p)).transpose()?;
            let post = api.reply(id, &body, to)?;
            created(out, json, "Posted reply", post)
        }
        ThreadCmd::Accept { thread, post } => {
            let id = api.resolve(&thread, Some(DocKind::Thread))?;
            let post = api.resolve_post(id, &post)?;
            api.accept(id, Some(post))?;
            emit(out, json, &json!({ "thread": id, "accepted": post }), |o| {
                writeln!(o, "Accepted answer {}.", post.short())
            })
        }
        ThreadCmd::React {
            thread,
            post,
            reaction,
            remove,
        } => {
            let id = api.resolve(&thread, Some(DocKind::Thread))?;
            let post = api.resolve_post(id, &post)?;
            api.react(id, post, &reaction, !remove)?;
            emit(
                out,
                json,
                &json!({ "thread": id, "post": post, "reaction": reaction, "on": !remove }),
                |o| {
                    writeln!(
                        o,
                        "{}",
                        if remove {
                            "Reaction removed."
                        } else {
                            "Reacted."
                        }
                    )
                },
            )
        }
        ThreadCmd::Edit { thread, post, body } => {
            let id = api.resolve(&thread, Some(DocKind::Thread))?;
            let post = api.resolve_post(id, &post)?;
            api.edit_post(id, post, &body)?;
            created(out, json, "Edited post", post)
        }
        ThreadCmd::Show { thread } => {
            let id = api.resolve(&thread, Some(DocKind::Thread))?;
            let view = api.thread(id)?;
            emit(out, json, &view, |o| {
                let t = &view.thread;
                writeln!(o, "# {}  ({}, {})", t.title, t.kind, id.short())?;
                if let Some(a) = &t.anchor {
                    match &view.anchor {
                        Some(AnchorState::Attached { text, .. }) => {
                            writeln!(o, "> {}", text.replace('\n', "\n> "))?
                        }
                        Some(AnchorState::Detached) => writeln!(
                            o,
                            "> {}  (this passage was deleted from the lesson)",
                            a.quote
                        )?,
                        None => writeln!(o, "> {}", a.quote)?,
                    }
                }
                for (i, p) in t.posts.iter().enumerate() {
                    let who = view.people.get(&p.author).cloned().unwrap_or_default();
                    let accepted = if t.accepted == Some(p.id) {
                        "  ✓ accepted answer"
                    } else {
                        ""
                    };
                    writeln!(
                        o,
                        "\n#{} {} · {}{accepted}",
                        i + 1,
                        who,
                        format_time(p.created_at.millis())
                    )?;
                    if p.deleted {
                        writeln!(o, "(deleted)")?;
                    } else {
                        writeln!(o, "{}", p.body)?;
                    }
                    if !p.reactions.is_empty() {
                        let r: Vec<String> = p
                            .reactions
                            .iter()
                            .map(|(e, who)| format!("{e} {}", who.len()))
                            .collect();
                        writeln!(o, "  {}", r.join("  "))?;
                    }
                }
                Ok(())
            })
        }
        ThreadCmd::List { space, lesson } => {
            let space = opt_space(api, space.as_deref())?;
            let lesson = lesson
                .map(|l| api.resolve(&l, Some(DocKind::Lesson)))
                .transpose()?;
            let rows = api.threads(space, lesson)?;
            emit(out, json, &rows, |o| print_list(o, &rows))
        }
    }
}

fn note<W: Write>(api: &mut Api, cmd: NoteCmd, json: bool, out: &mut W) -> ApiResult<()> {
    match cmd {
        NoteCmd::New {
            title,
            body,
            tags,
            space,
        } => {
            let space = match space {
                Some(s) => api.resolve_space(&s)?,
                None => api.personal_space(),
            };
            let body = body_text(&body)?.unwrap_or_default();
            let id = api.new_note(space, &title, &body, &tags, None)?;
            created(out, json, "Wrote note", id)
        }
        NoteCmd::List { space } => {
            let space = opt_space(api, space.as_deref())?;
            let rows = api.notes(space)?;
            emit(out, json, &rows, |o| print_list(o, &rows))
        }
        NoteCmd::Show { note } => {
            let id = api.resolve(&note, Some(DocKind::Note))?;
            let n = api.note(id)?;
            emit(out, json, &n, |o| {
                writeln!(o, "# {}", n.title)?;
                if !n.tags.is_empty() {
                    writeln!(o, "tags: {}", n.tags.join(", "))?;
                }
                writeln!(o, "\n{}", n.body)
            })
        }
    }
}

fn journal<W: Write>(api: &mut Api, cmd: JournalCmd, json: bool, out: &mut W) -> ApiResult<()> {
    match cmd {
        JournalCmd::Add { title, body, tags } => {
            let body = body_text(&body)?.unwrap_or_default();
            let id = api.add_journal(&title, &body, &tags)?;
            created(out, json, "Wrote journal entry", id)
        }
        JournalCmd::List => {
            let rows = api.journal()?;
            emit(out, json, &rows, |o| print_list(o, &rows))
        }
        JournalCmd::Show { entry } => {
            let id = api.resolve(&entry, Some(DocKind::JournalEntry))?;
            let e = api.journal_entry(id)?;
            emit(out, json, &e, |o| {
                writeln!(o, "# {}  ({})", e.title, format_time(e.created_at.millis()))?;
                if let Some(copy) = e.shared_as {
                    writeln!(o, "(shared as {})", copy.short())?;
                }
                writeln!(o, "\n{}", e.body)
            })
        }
        JournalCmd::Share { entry, space } => {
            let id = api.resolve(&entry, Some(DocKind::JournalEntry))?;
            let space = api.resolve_space(&space)?;
            let copy = api.share_journal(id, space)?;
            created(out, json, "Shared as", copy)
        }
    }
}

fn role_of(role: RoleArg) -> Role {
    match role {
        RoleArg::Facilitator => Role::Facilitator,
        RoleArg::Learner => Role::Learner,
        RoleArg::Observer => Role::Observer,
    }
}

/// Reads `7d`, `7` (days) or `2w` (weeks).
fn parse_days(text: &str) -> ApiResult<u32> {
    let t = text.trim().to_lowercase();
    let (num, factor) = if let Some(n) = t.strip_suffix('w') {
        (n, 7)
    } else {
        (t.strip_suffix('d').unwrap_or(&t), 1)
    };
    num.trim()
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|d| *d > 0)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "--expires {text:?}: give days as `7d` (or weeks as `2w`)"
            ))
        })
}

/// Reads `10m`, `2h` or `1d` (a bare number is minutes).
fn parse_minutes(text: &str) -> ApiResult<u32> {
    let t = text.trim().to_lowercase();
    let (num, factor) = if let Some(n) = t.strip_suffix('d') {
        (n, 24 * 60)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 60)
    } else {
        (t.strip_suffix('m').unwrap_or(&t), 1)
    };
    num.trim()
        .parse::<u32>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .filter(|m| *m > 0)
        .ok_or_else(|| {
            ApiError::invalid(format!(
                "--expires {text:?}: give minutes, hours or days, as `10m`, `2h` or `1d`"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_expiry_reads_minutes_hours_and_days() -> Result<(), ApiError> {
        assert_eq!(super::parse_minutes("10m")?, 10);
        assert_eq!(super::parse_minutes(" 15 ")?, 15);
        assert_eq!(super::parse_minutes("2h")?, 120);
        assert_eq!(super::parse_minutes("1D")?, 1440);
        assert!(super::parse_minutes("0m").is_err());
        assert!(super::parse_minutes("later").is_err());
        Ok(())
    }

    #[test]
    fn quotes_are_found_in_utf16_units() -> Result<(), ApiError> {
        assert_eq!(find_quote("a😀bc", "bc")?, (3, 5));
        assert!(find_quote("abc", "zz").is_err());
        Ok(())
    }

    #[test]
    fn splices_parse_with_colons_in_the_text() -> Result<(), ApiError> {
        let s = parse_splice("3:1:a:b")?;
        assert_eq!((s.pos, s.delete, s.insert.as_str()), (3, 1, "a:b"));
        assert!(parse_splice("x:1:a").is_err());
        Ok(())
    }

    #[test]
    fn times_render_as_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14 22:13");
    }

    #[test]
    fn invite_expiry_reads_days_and_weeks() -> Result<(), ApiError> {
        assert_eq!(super::parse_days("7d")?, 7);
        assert_eq!(super::parse_days(" 3 ")?, 3);
        assert_eq!(super::parse_days("2w")?, 14);
        assert!(super::parse_days("0d").is_err());
        assert!(super::parse_days("soon").is_err());
        Ok(())
    }
}
