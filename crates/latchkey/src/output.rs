//! Human output: aligned tables and UTC timestamps. Machine output (`--json`) is plain
//! serde_json of the api-types DTOs and needs nothing from here.

use std::io::Write;

/// A table printed with each column padded to its widest cell.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Cells are made inert on the way in: usernames, client ids, user agents and audit
    /// targets can be set by anonymous requests, and an escape sequence in one could
    /// rewrite the administrator's terminal (move the cursor, hide a line, set the title).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| inert(&c)).collect());
    }

    pub fn render(&self) -> String {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(width(c));
                }
            }
        }
        let mut out = String::new();
        let mut line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut l = String::new();
            for (i, c) in cells.enumerate() {
                if i > 0 {
                    l.push_str("  ");
                }
                l.push_str(c);
                let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(width(c));
                l.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(l.trim_end());
            out.push('\n');
        };
        line(&mut self.headers.iter().copied());
        for r in &self.rows {
            line(&mut r.iter().map(String::as_str));
        }
        out
    }
}

/// `s` with every control character (C0, DEL, C1) and every bidirectional override or
/// isolate written as a visible escape (`\x1b`, `\u{202e}`), so the terminal shows it
/// instead of obeying it.
pub fn inert(s: &str) -> String {
    if !s.chars().any(needs_escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Writes to stdout, ignoring a closed pipe (`latchkey … | head` is not an error).
pub fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SSZ` (UTC), for unambiguous logs and tables.
pub fn time(ts: i64) -> String {
    let days = ts.div_euclid(86_400);
    let secs = ts.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
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
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

pub fn opt_time(ts: Option<i64>) -> String {
    ts.map(time).unwrap_or_else(|| "-".into())
}

pub fn opt(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_string()
}

/// A duration in the largest whole unit, for lifetimes (`600 s` → `10 min`).
pub fn duration(secs: i64) -> String {
    match secs {
        s if s % 86_400 == 0 && s >= 86_400 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 && s >= 3600 => format!("{} h", s / 3600),
        s if s % 60 == 0 && s >= 60 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// The short form of a grant type for tables (the device-code URN is long).
pub fn short_grant(g: &str) -> &str {
    g.strip_prefix("urn:ietf:params:oauth:grant-type:")
        .unwrap_or(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_as_utc_calendar_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00Z");
        assert_eq!(time(951_782_400), "2000-02-29 00:00:00Z");
        assert_eq!(time(1_700_000_000), "2023-11-14 22:13:20Z");
    }

    #[test]
    fn tables_align_columns_on_the_widest_cell() {
        let mut t = Table::new(&["A", "LONGER"]);
        t.row(vec!["wide cell".into(), "x".into()]);
        assert_eq!(t.render(), "A          LONGER\nwide cell  x\n");
    }

    /// AD-60 (unit): table cells are made inert.
    #[test]
    fn table_cells_show_control_characters_instead_of_obeying_them() {
        let mut t = Table::new(&["USERNAME"]);
        t.row(vec![
            "eve\x1b]0;pwned\x07\r\nadmin\u{9b}2J\u{202e}nimda".into()
        ]);
        let out = t.render();
        assert_eq!(
            out,
            "USERNAME\neve\\x1b]0;pwned\\x07\\x0d\\x0aadmin\\x9b2J\\u{202e}nimda\n"
        );
        assert!(!out.trim_end().chars().any(|c| c.is_control() && c != '\n'));
        assert_eq!(inert("plain ünïcode"), "plain ünïcode");
    }

    #[test]
    fn durations_use_the_largest_whole_unit() {
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(2_592_000), "30 d");
        assert_eq!(duration(90), "90 s");
    }
}
