//! The annotation protos every Plinth service definition may import, embedded so
//! that no proto tree has to carry a copy of them.
//!
//! - `plinth/annotations.proto`: Plinth's options (package `plinth`).
//! - `kalix/annotations.proto`: the Kalix option names (package `kalix`), read into
//!   the same model so Kalix service definitions build unchanged.
//! - `google/api/{annotations,http,httpbody}.proto`: HTTP transcoding rules.

/// One embedded proto file: its import path and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProtoFile {
    /// The path a proto file imports it by, e.g. `plinth/annotations.proto`.
    pub name: &'static str,
    /// The file's source text.
    pub source: &'static str,
}

/// `plinth/annotations.proto`.
pub const PLINTH_ANNOTATIONS: ProtoFile = ProtoFile {
    name: "plinth/annotations.proto",
    source: include_str!("../proto/plinth/annotations.proto"),
};

/// `kalix/annotations.proto` (compatibility names).
pub const KALIX_ANNOTATIONS: ProtoFile = ProtoFile {
    name: "kalix/annotations.proto",
    source: include_str!("../proto/kalix/annotations.proto"),
};

/// `google/api/annotations.proto` (the `google.api.http` method option).
pub const GOOGLE_API_ANNOTATIONS: ProtoFile = ProtoFile {
    name: "google/api/annotations.proto",
    source: include_str!("../proto/google/api/annotations.proto"),
};

/// `google/api/http.proto` (`HttpRule`).
pub const GOOGLE_API_HTTP: ProtoFile = ProtoFile {
    name: "google/api/http.proto",
    source: include_str!("../proto/google/api/http.proto"),
};

/// `google/api/httpbody.proto` (`HttpBody`, raw response bodies).
pub const GOOGLE_API_HTTPBODY: ProtoFile = ProtoFile {
    name: "google/api/httpbody.proto",
    source: include_str!("../proto/google/api/httpbody.proto"),
};

/// Every embedded file.
pub const ALL: &[ProtoFile] = &[
    PLINTH_ANNOTATIONS,
    KALIX_ANNOTATIONS,
    GOOGLE_API_ANNOTATIONS,
    GOOGLE_API_HTTP,
    GOOGLE_API_HTTPBODY,
];

/// The embedded file imported as `name`, if there is one.
pub fn find(name: &str) -> Option<&'static ProtoFile> {
    ALL.iter().find(|file| file.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_found_by_its_import_path() {
        for file in ALL {
            assert_eq!(find(file.name), Some(file));
            assert!(
                file.source.contains("syntax = \"proto3\";"),
                "{}",
                file.name
            );
        }
        assert_eq!(find("google/protobuf/empty.proto"), None);
    }
}
