//! `${ENV}` templates in topic names: `orders-${STAGE}` becomes `orders-prod`
//! when `STAGE=prod`. A variable that is not set is an error naming it, found
//! at startup, never a message sent to a half-named topic.

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `${` without a closing `}`, or an empty or invalid variable name.
    #[error("topic {template:?}: malformed `${{...}}` at byte {at}")]
    Malformed {
        /// The template.
        template: String,
        /// Where the bad reference starts.
        at: usize,
    },
    /// A referenced variable is not set.
    #[error("topic {template:?} uses ${{{variable}}}, which is not set")]
    Unset {
        /// The template.
        template: String,
        /// The variable.
        variable: String,
    },
}

/// Expand the `${NAME}` references of `template` with `lookup`.
pub fn expand(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    let mut offset = 0;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let malformed = || TemplateError::Malformed {
            template: template.to_owned(),
            at: offset + start,
        };
        let end = after.find('}').ok_or_else(malformed)?;
        let name = &after[..end];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid {
            return Err(malformed());
        }
        let value = lookup(name).ok_or_else(|| TemplateError::Unset {
            template: template.to_owned(),
            variable: name.to_owned(),
        })?;
        out.push_str(&value);
        let consumed = start + 2 + end + 1;
        offset += consumed;
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expand with the process environment.
pub fn expand_env(template: &str) -> Result<String, TemplateError> {
    expand(template, |name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "STAGE" => Some("prod".into()),
            "N" => Some("7".into()),
            _ => None,
        }
    }

    #[test]
    fn references_are_replaced() {
        assert_eq!(expand("plain", env).unwrap(), "plain");
        assert_eq!(expand("orders-${STAGE}", env).unwrap(), "orders-prod");
        assert_eq!(expand("${STAGE}.${N}-x", env).unwrap(), "prod.7-x");
    }

    #[test]
    fn bad_references_are_errors_naming_them() {
        let unset = expand("a-${MISSING}", env).unwrap_err();
        assert!(unset.to_string().contains("MISSING"), "{unset}");
        assert!(matches!(
            expand("a-${STAGE", env),
            Err(TemplateError::Malformed { at: 2, .. })
        ));
        assert!(expand("a-${}", env).is_err());
        assert!(expand("a-${1X}", env).is_err());
    }
}
