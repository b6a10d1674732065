//! Parsing: the values generated `FromJson` impls read, each accepting what
//! the reflective decoder (prost-reflect) accepts for that kind, with the
//! same result.
//!
//! Anything this side does not take — an unknown or repeated key, `null`, a
//! value of the wrong type — is an error, and an
//! error here means "decode this body the reflective way", which then either
//! decodes it or reports the problem with today's messages. So the fast path
//! never decides what is valid; it only takes the common case early.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, Error, MapAccess, SeqAccess, Visitor};

use super::write::JsonEnum;

/// A message type parsed from canonical proto3 JSON by generated code.
pub trait FromJson: Default {
    /// Read the value of the member `key` into `self`, taking it from `map`;
    /// an unknown key is an error. `seen` holds the fields (and oneofs)
    /// already given.
    fn read_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &str,
        seen: &mut Seen,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// The fields of one object already given, by the slots the generated code
/// numbers them with (a field's, and its oneof's).
#[derive(Debug, Default)]
pub struct Seen(u128);

impl Seen {
    /// Mark `slot` given; an error if it already was.
    pub fn once<E: Error>(&mut self, slot: u32) -> Result<(), E> {
        let bit = 1u128 << (slot % 128);
        if self.0 & bit != 0 {
            return Err(E::custom("a field given twice"));
        }
        self.0 |= bit;
        Ok(())
    }
}

/// A member's name: borrowed from the body unless written with escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

/// An unknown member: an error.
pub fn unknown<E: Error>() -> E {
    E::custom("an unknown field")
}

/// A JSON value that reads into a field's Rust value.
pub trait JsonValue<'de>: Deserialize<'de> {
    /// The Rust type of the field.
    type Rust;
    /// The Rust value.
    fn into_rust(self) -> Self::Rust;
}

impl<'de> JsonValue<'de> for String {
    type Rust = String;
    fn into_rust(self) -> String {
        self
    }
}

impl<'de> JsonValue<'de> for bool {
    type Rust = bool;
    fn into_rust(self) -> bool {
        self
    }
}

/// A message value.
#[derive(Debug)]
pub struct Msg<M>(pub M);

impl<'de, M: FromJson> Deserialize<'de> for Msg<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<M>(PhantomData<M>);
        impl<'de, M: FromJson> Visitor<'de> for Fields<M> {
            type Value = Msg<M>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Msg<M>, A::Error> {
                let mut message = M::default();
                let mut seen = Seen::default();
                while let Some(Key(key)) = map.next_key()? {
                    message.read_field(&key, &mut seen, &mut map)?;
                }
                Ok(Msg(message))
            }
        }
        deserializer.deserialize_map(Fields(PhantomData))
    }
}

impl<'de, M: FromJson> JsonValue<'de> for Msg<M> {
    type Rust = M;
    fn into_rust(self) -> M {
        self.0
    }
}

/// A repeated field's value: an array.
#[derive(Debug)]
pub struct List<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Items<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Items<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List(items))
            }
        }
        deserializer.deserialize_seq(Items(PhantomData))
    }
}

impl<'de, T: JsonValue<'de>> JsonValue<'de> for List<T> {
    type Rust = Vec<T::Rust>;
    fn into_rust(self) -> Vec<T::Rust> {
        self.0.into_iter().map(JsonValue::into_rust).collect()
    }
}

/// A map field's key, read from the member's name.
pub trait MapKey: Sized + Eq + Hash {
    /// The key written as `text`.
    fn parse(text: &str) -> Option<Self>;
}

impl MapKey for String {
    fn parse(text: &str) -> Option<String> {
        Some(text.to_owned())
    }
}

macro_rules! parsed_keys {
    ($($ty:ty),*) => {$(
        impl MapKey for $ty {
            fn parse(text: &str) -> Option<$ty> {
                <$ty>::from_str(text).ok()
            }
        }
    )*};
}
parsed_keys!(i32, i64, u32, u64, bool);

/// A map field's value: an object, each key at most once.
#[derive(Debug)]
pub struct Map<K, V>(pub HashMap<K, V>);

impl<'de, K: MapKey, V: Deserialize<'de>> Deserialize<'de> for Map<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(PhantomData<(K, V)>);
        impl<'de, K: MapKey, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = Map<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Map<K, V>, A::Error> {
                let mut entries = HashMap::new();
                while let Some(Key(key)) = map.next_key()? {
                    let key = K::parse(&key).ok_or_else(|| A::Error::custom("a bad map key"))?;
                    let value = map.next_value()?;
                    if entries.insert(key, value).is_some() {
                        return Err(A::Error::custom("a map key given twice"));
                    }
                }
                Ok(Map(entries))
            }
        }
        deserializer.deserialize_map(Entries(PhantomData))
    }
}

impl<'de, K: MapKey, V: JsonValue<'de>> JsonValue<'de> for Map<K, V> {
    type Rust = HashMap<K, V::Rust>;
    fn into_rust(self) -> HashMap<K, V::Rust> {
        self.0
            .into_iter()
            .map(|(key, value)| (key, value.into_rust()))
            .collect()
    }
}

/// An enum value: its name, or a 32-bit number.
#[derive(Debug)]
pub struct Enum<E>(pub i32, PhantomData<E>);

impl<'de, E: JsonEnum> Deserialize<'de> for Enum<E> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Value<E>(PhantomData<E>);
        impl<E: JsonEnum> Visitor<'_> for Value<E> {
            type Value = Enum<E>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an enum value")
            }
            fn visit_str<X: Error>(self, name: &str) -> Result<Enum<E>, X> {
                E::number_of(name)
                    .map(|number| Enum(number, PhantomData))
                    .ok_or_else(|| X::custom("an unknown enum value"))
            }
            fn visit_i64<X: Error>(self, number: i64) -> Result<Enum<E>, X> {
                i32::try_from(number)
                    .map(|number| Enum(number, PhantomData))
                    .map_err(X::custom)
            }
            fn visit_u64<X: Error>(self, number: u64) -> Result<Enum<E>, X> {
                i32::try_from(number)
                    .map(|number| Enum(number, PhantomData))
                    .map_err(X::custom)
            }
        }
        deserializer.deserialize_any(Value(PhantomData))
    }
}

impl<'de, E: JsonEnum> JsonValue<'de> for Enum<E> {
    type Rust = i32;
    fn into_rust(self) -> i32 {
        self.0
    }
}

/// Integers: a JSON integer in range, or a string Rust parses as one (as
/// prost-reflect reads them).
macro_rules! integer {
    ($name:ident, $ty:ty, $what:literal) => {
        #[doc = concat!("A ", $what, ".")]
        #[derive(Debug)]
        pub struct $name(pub $ty);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Value;
                impl Visitor<'_> for Value {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($what)
                    }
                    fn visit_i64<E: Error>(self, v: i64) -> Result<$name, E> {
                        <$ty>::try_from(v).map($name).map_err(E::custom)
                    }
                    fn visit_u64<E: Error>(self, v: u64) -> Result<$name, E> {
                        <$ty>::try_from(v).map($name).map_err(E::custom)
                    }
                    fn visit_str<E: Error>(self, v: &str) -> Result<$name, E> {
                        v.parse().map($name).map_err(E::custom)
                    }
                }
                deserializer.deserialize_any(Value)
            }
        }

        impl<'de> JsonValue<'de> for $name {
            type Rust = $ty;
            fn into_rust(self) -> $ty {
                self.0
            }
        }
    };
}

integer!(I32, i32, "32-bit integer");
integer!(U32, u32, "unsigned 32-bit integer");
integer!(I64, i64, "64-bit integer");
integer!(U64, u64, "unsigned 64-bit integer");

/// A double: a JSON number, or a string Rust parses as one, or `"NaN"`,
/// `"Infinity"`, `"-Infinity"`.
#[derive(Debug)]
pub struct F64(pub f64);

impl<'de> Deserialize<'de> for F64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Value;
        impl Visitor<'_> for Value {
            type Value = F64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<F64, E> {
                Ok(F64(v))
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<F64, E> {
                Ok(F64(v as f64))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<F64, E> {
                Ok(F64(v as f64))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<F64, E> {
                match v.parse() {
                    Ok(value) => Ok(F64(value)),
                    Err(_) if v == "Infinity" => Ok(F64(f64::INFINITY)),
                    Err(_) if v == "-Infinity" => Ok(F64(f64::NEG_INFINITY)),
                    Err(_) if v == "NaN" => Ok(F64(f64::NAN)),
                    Err(err) => Err(E::custom(err)),
                }
            }
        }
        deserializer.deserialize_any(Value)
    }
}

impl<'de> JsonValue<'de> for F64 {
    type Rust = f64;
    fn into_rust(self) -> f64 {
        self.0
    }
}

/// A float: a JSON number within the float's range, or a string as for
/// doubles.
#[derive(Debug)]
pub struct F32(pub f32);

impl<'de> Deserialize<'de> for F32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Value;
        impl Visitor<'_> for Value {
            type Value = F32;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E: Error>(self, v: f64) -> Result<F32, E> {
                if v < f64::from(f32::MIN) || v > f64::from(f32::MAX) {
                    Err(E::custom("float value out of range"))
                } else {
                    Ok(F32(v as f32))
                }
            }
            fn visit_i64<E: Error>(self, v: i64) -> Result<F32, E> {
                Ok(F32(v as f32))
            }
            fn visit_u64<E: Error>(self, v: u64) -> Result<F32, E> {
                Ok(F32(v as f32))
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<F32, E> {
                match v.parse() {
                    Ok(value) => Ok(F32(value)),
                    Err(_) if v == "Infinity" => Ok(F32(f32::INFINITY)),
                    Err(_) if v == "-Infinity" => Ok(F32(f32::NEG_INFINITY)),
                    Err(_) if v == "NaN" => Ok(F32(f32::NAN)),
                    Err(err) => Err(E::custom(err)),
                }
            }
        }
        deserializer.deserialize_any(Value)
    }
}

impl<'de> JsonValue<'de> for F32 {
    type Rust = f32;
    fn into_rust(self) -> f32 {
        self.0
    }
}

/// Bytes: standard base64 (padding optional), else URL-safe base64.
#[derive(Debug)]
pub struct Base64(pub Vec<u8>);

impl<'de> Deserialize<'de> for Base64 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::alphabet;
        use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
        use base64::{DecodeError, Engine as _};
        const CONFIG: GeneralPurposeConfig = GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::Indifferent);
        const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, CONFIG);
        const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, CONFIG);
        struct Value;
        impl Visitor<'_> for Value {
            type Value = Base64;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: Error>(self, v: &str) -> Result<Base64, E> {
                match STANDARD.decode(v) {
                    Ok(bytes) => Ok(Base64(bytes)),
                    Err(DecodeError::InvalidByte(_, b'-' | b'_')) => {
                        URL_SAFE.decode(v).map(Base64).map_err(E::custom)
                    }
                    Err(err) => Err(E::custom(err)),
                }
            }
        }
        deserializer.deserialize_str(Value)
    }
}

impl<'de> JsonValue<'de> for Base64 {
    type Rust = Vec<u8>;
    fn into_rust(self) -> Vec<u8> {
        self.0
    }
}
