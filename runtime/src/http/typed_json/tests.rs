//! The readers on their own; the generated impls are checked against the
//! reflective path in `tests/tests/typed_json.rs`.

use super::*;

fn read<'de, T: JsonValue<'de>>(json: &'de str) -> Option<T::Rust> {
    serde_json::from_str::<T>(json)
        .ok()
        .map(JsonValue::into_rust)
}

#[test]
fn empty_is_an_object_without_members() {
    assert_eq!((EMPTY.render)(&[]).unwrap(), b"{}");
    assert_eq!((EMPTY.parse)(b" { } ").unwrap(), Vec::<u8>::new());
    assert_eq!(
        (EMPTY.parse)(b"{\"a\":1}"),
        None,
        "unknown field: reflective path"
    );
    assert_eq!((EMPTY.parse)(b"[]"), None);
    assert_eq!(
        (EMPTY.parse)(b"{} x"),
        None,
        "trailing text: reflective path"
    );
}

#[test]
fn integers_take_numbers_and_strings_in_range() {
    assert_eq!(read::<I32>("-7"), Some(-7));
    assert_eq!(read::<I32>("\"12\""), Some(12));
    assert_eq!(read::<I32>("2147483648"), None);
    assert_eq!(read::<I32>("1.5"), None);
    assert_eq!(read::<U32>("-1"), None);
    assert_eq!(read::<I64>("\"-9223372036854775808\""), Some(i64::MIN));
    assert_eq!(read::<U64>("18446744073709551615"), Some(u64::MAX));
    assert_eq!(read::<I64>("null"), None);
}

#[test]
fn floats_take_numbers_in_range() {
    assert_eq!(read::<F64>("1e300"), Some(1e300));
    assert_eq!(read::<F64>("3"), Some(3.0));
    assert_eq!(read::<F32>("0.5"), Some(0.5));
    assert_eq!(read::<F32>("1e39"), None, "out of a float's range");
    assert!(read::<F64>("\"NaN\"").is_some_and(f64::is_nan));
    assert_eq!(read::<F32>("\"-Infinity\""), Some(f32::NEG_INFINITY));
    assert_eq!(read::<F64>("\"2.5\""), Some(2.5));
    assert_eq!(read::<F64>("\"x\""), None);
}

#[test]
fn bytes_take_standard_and_url_safe_base64() {
    assert_eq!(
        read::<Base64>("\"AP9hYg==\""),
        Some(vec![0, 255, b'a', b'b'])
    );
    assert_eq!(read::<Base64>("\"AP9hYg\""), Some(vec![0, 255, b'a', b'b']));
    assert_eq!(read::<Base64>("\"-_8\""), Some(vec![0xfb, 0xff]));
    assert_eq!(read::<Base64>("\"@@\""), None);
}

#[test]
fn lists_and_maps() {
    assert_eq!(read::<List<I32>>("[1,\"2\"]"), Some(vec![1, 2]));
    assert_eq!(read::<List<I32>>("[1,null]"), None);
    let map = read::<Map<i64, String>>("{\"-3\":\"a\",\"4\":\"b\"}").unwrap();
    assert_eq!(map.get(&-3).map(String::as_str), Some("a"));
    assert_eq!(map.len(), 2);
    assert!(read::<Map<bool, String>>("{\"true\":\"a\",\"true\":\"b\"}").is_none());
    assert!(read::<Map<u32, String>>("{\"x\":\"a\"}").is_none());
}

#[test]
fn a_field_is_seen_once() {
    let mut seen = Seen::default();
    assert!(seen.once::<serde_json::Error>(3).is_ok());
    assert!(seen.once::<serde_json::Error>(4).is_ok());
    assert!(seen.once::<serde_json::Error>(3).is_err());
}
