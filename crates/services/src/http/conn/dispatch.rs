//! What each method does with the store, and how answers are written:
//! the request's head and body in, a response queued on `Connection`.

use std::sync::Arc;

use super::{Connection, Ctx, ALLOW_OBJECT};
use crate::http::config::{ErrorKind, Method};
use crate::http::head::Head;
use crate::http::precond::{self, Verdict};
use crate::http::range::{self, Verdict as RangeVerdict};
use crate::http::response::{self, write_head, ContentRange, Fields};
use crate::http::store::{Object, PutOutcome};
use crate::time::Instant;

/// Every method we implement: for `OPTIONS *` and paths without an object.
const ALLOW_ANY: &str = "GET, HEAD, PUT, POST, DELETE, OPTIONS";

impl Connection {
    pub(super) fn dispatch(&mut self, now: Instant, ctx: &mut Ctx<'_>, head: &Head, body: Vec<u8>) {
        let keep_alive = head.keep_alive;
        let http10 = head.minor == 0;
        let wall = ctx.unix_secs(now);
        let base = Fields {
            keep_alive,
            http10,
            ..Fields::default()
        };
        match head.method {
            Method::Get | Method::Head => {
                let mut obj = ctx.store.get(&head.path);
                if obj.is_none() && head.path.ends_with('/') {
                    // A directory serves its index, like a static web server.
                    obj = ctx.store.get(&format!("{}index.html", head.path));
                }
                let Some(obj) = obj else {
                    self.respond_error(now, ctx, 404, keep_alive, http10, None);
                    return;
                };
                self.serve_object(now, ctx, head, obj, base);
            }
            Method::Put => {
                let current = ctx.store.get(&head.path);
                if precond::evaluate(head.cond.as_deref(), current.as_deref(), wall, false)
                    != Verdict::Proceed
                {
                    ctx.counters.error(ErrorKind::PreconditionFailed);
                    self.respond_error(now, ctx, 412, keep_alive, http10, None);
                    return;
                }
                let obj = Object::new(body, head.content_type.as_deref(), wall);
                match ctx.store.put(&head.path, obj) {
                    Ok(PutOutcome::Created) => {
                        let f = Fields {
                            content_length: Some(0),
                            location: Some(&head.path),
                            ..base
                        };
                        self.respond(now, ctx, 201, &f);
                    }
                    Ok(PutOutcome::Replaced) => self.respond(now, ctx, 204, &base),
                    Err(_) => {
                        ctx.counters.error(ErrorKind::StoreFull);
                        self.respond_error(now, ctx, 507, keep_alive, http10, None);
                    }
                }
            }
            Method::Post => {
                if ctx.store.contains(&head.path) {
                    ctx.counters.error(ErrorKind::MethodNotAllowed);
                    self.respond_error(now, ctx, 405, keep_alive, http10, Some(ALLOW_OBJECT));
                    return;
                }
                let obj = Object::new(body, head.content_type.as_deref(), wall);
                match ctx.store.post(&head.path, obj) {
                    Ok(path) => {
                        let f = Fields {
                            content_length: Some(0),
                            location: Some(&path),
                            ..base
                        };
                        self.respond(now, ctx, 201, &f);
                    }
                    Err(_) => {
                        ctx.counters.error(ErrorKind::StoreFull);
                        self.respond_error(now, ctx, 507, keep_alive, http10, None);
                    }
                }
            }
            Method::Delete => {
                let current = ctx.store.get(&head.path);
                if current.is_some()
                    && precond::evaluate(head.cond.as_deref(), current.as_deref(), wall, false)
                        != Verdict::Proceed
                {
                    ctx.counters.error(ErrorKind::PreconditionFailed);
                    self.respond_error(now, ctx, 412, keep_alive, http10, None);
                    return;
                }
                if ctx.store.delete(&head.path) {
                    self.respond(now, ctx, 204, &base);
                } else {
                    self.respond_error(now, ctx, 404, keep_alive, http10, None);
                }
            }
            Method::Options => {
                //= https://www.rfc-editor.org/rfc/rfc9110#section-9.3.7
                //# A server generating a successful response to OPTIONS SHOULD send any
                //# header that might indicate optional features implemented by the
                //# server and applicable to the target resource (e.g., Allow)
                let allow = if head.path != "*" && ctx.store.contains(&head.path) {
                    ALLOW_OBJECT
                } else {
                    ALLOW_ANY
                };
                let f = Fields {
                    content_length: Some(0),
                    allow: Some(allow),
                    accept_ranges: true,
                    ..base
                };
                self.respond(now, ctx, 200, &f);
            }
            Method::Other => {
                ctx.counters.error(ErrorKind::NotImplemented);
                self.respond_error(now, ctx, 501, keep_alive, http10, None);
            }
        }
    }

    /// GET or HEAD of a stored object: preconditions, then Range.
    fn serve_object(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        head: &Head,
        obj: Arc<Object>,
        base: Fields<'_>,
    ) {
        let wall = ctx.unix_secs(now);
        let len = obj.body.len() as u64;
        let fields = Fields {
            etag: Some(&obj.etag),
            last_modified: Some(obj.last_modified),
            accept_ranges: true,
            ..base
        };
        let get = head.method == Method::Get;
        match precond::evaluate(head.cond.as_deref(), Some(&obj), wall, true) {
            Verdict::Proceed => {}
            //= https://www.rfc-editor.org/rfc/rfc9110#section-15.4.5
            //# The server generating a 304 response MUST generate any of the
            //# following header fields that would have been sent in a 200 (OK)
            //# response to the same request:
            Verdict::NotModified => {
                self.respond(now, ctx, 304, &fields);
                return;
            }
            Verdict::Failed => {
                ctx.counters.error(ErrorKind::PreconditionFailed);
                let (keep, http10) = (base.keep_alive, base.http10);
                self.respond_error(now, ctx, 412, keep, http10, None);
                return;
            }
        }
        //= https://www.rfc-editor.org/rfc/rfc9110#section-14.2
        //# A server MUST ignore a Range header field received with a request
        //# method that is unrecognized or for which range handling is not
        //# defined.
        let range = match head.cond.as_deref() {
            Some(c) if get && c.range.is_some() && precond::if_range_holds(c, &obj, wall) => {
                range::evaluate(c.range.as_deref().unwrap_or_default(), len)
            }
            _ => RangeVerdict::Full,
        };
        let (status, start, end) = match range {
            RangeVerdict::Full => (200, 0, len),
            RangeVerdict::Partial { start, end } => (206, start, end),
            RangeVerdict::Unsatisfiable => {
                ctx.counters.error(ErrorKind::RangeNotSatisfiable);
                let f = Fields {
                    content_range: Some(ContentRange::Unsatisfied { len }),
                    ..fields
                };
                self.respond_error_with(now, ctx, 416, f);
                return;
            }
        };
        let fields = Fields {
            content_length: Some(end - start),
            content_type: Some(&obj.content_type),
            content_range: (status == 206).then(|| ContentRange::Part {
                first: start,
                last: end - 1,
                len,
            }),
            ..fields
        };
        self.respond(now, ctx, status, &fields);
        //= https://www.rfc-editor.org/rfc/rfc9110#section-9.3.2
        //# The server SHOULD send the same header fields in response to a
        //# HEAD request as it would have sent if the request method had been
        //# GET. However, a server MUST NOT send content in the response
        if get && end > start {
            let (start, end) = (start as usize, end as usize);
            self.output.push_body(obj, start, end);
        }
    }

    pub(super) fn push_bytes(&mut self, b: &[u8]) {
        self.output.append(|out| out.extend_from_slice(b));
    }

    pub(super) fn respond(&mut self, now: Instant, ctx: &mut Ctx<'_>, status: u16, f: &Fields<'_>) {
        ctx.counters.status(status);
        let secs = ctx.unix_secs(now);
        let (date, server) = (ctx.date.get(secs), &ctx.cfg.server);
        self.output
            .append(|out| write_head(out, status, date, server, f));
    }

    /// A short text/plain answer (the body is the reason phrase).
    pub(super) fn respond_error(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        status: u16,
        keep_alive: bool,
        http10: bool,
        allow: Option<&str>,
    ) {
        let f = Fields {
            keep_alive,
            http10,
            allow,
            ..Fields::default()
        };
        self.respond_error_with(now, ctx, status, f);
    }

    /// The reason phrase as a text/plain body, with `f`'s other fields.
    pub(super) fn respond_error_with(
        &mut self,
        now: Instant,
        ctx: &mut Ctx<'_>,
        status: u16,
        f: Fields<'_>,
    ) {
        let text = response::reason(status);
        let f = Fields {
            content_length: Some(text.len() as u64 + 1),
            content_type: Some("text/plain; charset=utf-8"),
            ..f
        };
        self.respond(now, ctx, status, &f);
        if self.is_head {
            return;
        }
        self.output.append(|out| {
            out.extend_from_slice(text.as_bytes());
            out.push(b'\n');
        });
    }
}
