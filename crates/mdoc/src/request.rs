//! What a reader asks for (§8.3.2.1.2.1). Reader authentication
//! (readerAuth, §9.1.4) is not implemented: a request carrying one is
//! read, its readerAuth ignored.

use std::collections::BTreeMap;

use crate::MdocError;
use crate::cbor::{self, Encoded, Fields, Value, text_map};
use crate::mdl::{MDL_DOCTYPE, MDL_NAMESPACE};

/// ItemsRequest (§8.3.2.1.2.1): a document type and, by namespace, the
/// data elements asked for, each with the reader's intent to retain it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemsRequest {
    pub doc_type: String,
    pub name_spaces: BTreeMap<String, BTreeMap<String, bool>>,
}

impl ItemsRequest {
    /// Elements of the mDL namespace, none to be retained.
    pub fn mdl(elements: &[&str]) -> Self {
        Self {
            doc_type: MDL_DOCTYPE.to_string(),
            name_spaces: BTreeMap::from([(
                MDL_NAMESPACE.to_string(),
                elements.iter().map(|e| (e.to_string(), false)).collect(),
            )]),
        }
    }

    /// Whether `identifier` of `namespace` was asked for.
    pub fn asks_for(&self, namespace: &str, identifier: &str) -> bool {
        self.name_spaces
            .get(namespace)
            .is_some_and(|elements| elements.contains_key(identifier))
    }

    pub fn to_value(&self) -> Value {
        let name_spaces = self
            .name_spaces
            .iter()
            .map(|(namespace, elements)| {
                let elements = elements
                    .iter()
                    .map(|(id, retain)| (Value::Text(id.clone()), Value::Bool(*retain)))
                    .collect();
                (Value::Text(namespace.clone()), Value::Map(elements))
            })
            .collect();
        text_map([
            ("docType", Value::Text(self.doc_type.clone())),
            ("nameSpaces", Value::Map(name_spaces)),
        ])
    }

    pub fn from_value(value: &Value) -> Result<Self, MdocError> {
        const WHAT: &str = "ItemsRequest";
        let fields = Fields::of(value, WHAT)?;
        let mut name_spaces = BTreeMap::new();
        for (namespace, elements) in Fields::of(fields.required("nameSpaces")?, WHAT)?.entries() {
            let elements = Fields::of(elements, WHAT)?
                .entries()
                .iter()
                .map(|(id, retain)| match retain {
                    Value::Bool(retain) => Ok((cbor::text(id, WHAT)?.to_string(), *retain)),
                    _ => Err(MdocError::Malformed(WHAT)),
                })
                .collect::<Result<_, _>>()?;
            name_spaces.insert(cbor::text(namespace, WHAT)?.to_string(), elements);
        }
        Ok(Self {
            doc_type: fields.text("docType")?.to_string(),
            name_spaces,
        })
    }
}

/// DeviceRequest (§8.3.2.1.2.1), version "1.0": one DocRequest per
/// document, each an ItemsRequestBytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    pub doc_requests: Vec<ItemsRequest>,
}

impl DeviceRequest {
    pub fn to_bytes(&self) -> Result<Vec<u8>, MdocError> {
        let requests = self
            .doc_requests
            .iter()
            .map(|request| {
                let bytes = Encoded::of(&request.to_value())?;
                Ok(text_map([("itemsRequest", bytes.to_value())]))
            })
            .collect::<Result<_, MdocError>>()?;
        cbor::encode(&text_map([
            ("version", Value::Text("1.0".into())),
            ("docRequests", Value::Array(requests)),
        ]))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MdocError> {
        const WHAT: &str = "DeviceRequest";
        let value = cbor::decode(bytes)?;
        let fields = Fields::of(&value, WHAT)?;
        if fields.text("version")? != "1.0" {
            return Err(MdocError::Malformed("DeviceRequest version"));
        }
        let doc_requests = cbor::array(fields.required("docRequests")?, WHAT)?
            .iter()
            .map(|request| {
                let items = Fields::of(request, WHAT)?.required("itemsRequest")?;
                ItemsRequest::from_value(
                    &Encoded::from_value(items, "ItemsRequestBytes")?.decode()?,
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { doc_requests })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_request_round_trips() {
        let request = DeviceRequest {
            doc_requests: vec![ItemsRequest::mdl(&["driving_privileges", "age_over_21"])],
        };
        let bytes = request.to_bytes().unwrap();
        assert_eq!(DeviceRequest::from_bytes(&bytes).unwrap(), request);
        let items = &request.doc_requests[0];
        assert!(items.asks_for(MDL_NAMESPACE, "age_over_21"));
        assert!(!items.asks_for(MDL_NAMESPACE, "family_name"));
        assert!(!items.asks_for("org.example", "age_over_21"));
    }
}
