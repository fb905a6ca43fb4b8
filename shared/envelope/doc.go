// Package envelope renders the body of a webhook request (DESIGN §4): the
// seed guide's envelope plus event_id,
//
//	{"event_type","timestamp","version":"1.0","environment","webhook_id","event_id","data"}
//
// as bytes equal to JavaScript's JSON.stringify(JSON.parse(body)) (the
// data goes through package jsjson, the envelope's own strings are escaped
// by the same rules), reduced to the core fields on plans that only get
// those, and never larger than MaxBody: a bigger body is cut down by
// removing the largest data fields (transcripts first, then other text,
// then anything else), never the links, and data is marked
// "truncated":true. RenderInfo reports what was removed so the caller can
// log it.
//
// The common case, a body under MaxBody, costs one allocation: the data is
// canonicalized straight into the body buffer, and the core projection
// compacts it in place. Only truncation builds a tree of the data.
package envelope
