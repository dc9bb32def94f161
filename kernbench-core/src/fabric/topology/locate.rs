//! Finds the line of a dotted key in YAML text, so that validation errors
//! (which serde cannot place) still point the user at the right line.

/// 1-based line of `dotted` (e.g. `ucie.bw_gbs`) in `text`, if found. A key
/// inside a flow mapping (`cube_mesh: { x: 4 }`) resolves to that line.
pub(crate) fn line_of(text: &str, dotted: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0usize;
    let mut parent_indent: Option<usize> = None;
    let mut found: Option<usize> = None;
    for part in dotted.split('.') {
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(start) {
            let body = line.trim_start();
            if body.is_empty() || body.starts_with('#') {
                continue;
            }
            let indent = line.len() - body.len();
            if let Some(p) = parent_indent {
                if indent <= p {
                    break;
                }
            }
            if body
                .strip_prefix(part)
                .is_some_and(|r| r.trim_start().starts_with(':'))
            {
                hit = Some((i, indent));
                break;
            }
        }
        match hit {
            Some((i, indent)) => {
                found = Some(i);
                start = i + 1;
                parent_indent = Some(indent);
            }
            None => {
                // A flow mapping on the parent's line holds the key inline.
                let inline = found.is_some_and(|f| {
                    lines[f].contains('{') && lines[f].contains(&format!("{part}:"))
                });
                return if inline { found.map(|f| f + 1) } else { None };
            }
        }
    }
    found.map(|f| f + 1)
}

#[cfg(test)]
mod tests {
    use super::line_of;

    const Y: &str = "a: 1\nsys:\n  # c\n  mesh: { x: 4, y: 4 }\n  n: 2\nucie:\n  bw: 3\n  n: 5\n";

    #[test]
    fn finds_nested_and_inline_keys() {
        assert_eq!(line_of(Y, "a"), Some(1));
        assert_eq!(line_of(Y, "sys.n"), Some(5));
        assert_eq!(line_of(Y, "sys.mesh.y"), Some(4));
        assert_eq!(line_of(Y, "ucie.n"), Some(8));
        assert_eq!(line_of(Y, "ucie.missing"), None);
    }
}
