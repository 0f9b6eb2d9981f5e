//! The request's fields as a decision sees them: indexed by [`Field`], with
//! the fields that can be compared a word at a time marked.

use std::cell::Cell;

use crate::request::SamplingRequest;
use crate::wildcard::is_ascii;

/// Fields a rule can match, in the order a rule's checks run: the URL path
/// first, as it tells rules apart most often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Field {
    UrlPath = 0,
    HttpMethod = 1,
    Host = 2,
    ServiceName = 3,
    ServiceType = 4,
    ResourceArn = 5,
}

/// How many [`Field`]s there are.
pub(crate) const FIELDS: usize = 6;

/// The request fields, indexed by [`Field`]. ASCII text is compared a word
/// at a time; other text takes the character path (its case folding goes
/// beyond ASCII). Whether a field is ASCII is worked out when first asked:
/// a decision looks at few of them.
pub(crate) struct Texts<'b> {
    pub(crate) raw: [&'b str; FIELDS],
    /// Bit per field known to be non-empty ASCII text.
    ascii: Cell<u8>,
    /// Bit per field whose `ascii` bit is worked out.
    known: Cell<u8>,
}

impl<'b> Texts<'b> {
    /// The fields of `req`.
    #[inline]
    pub(crate) fn new(req: &SamplingRequest<'b>) -> Self {
        Texts {
            raw: [
                req.url_path,
                req.http_method,
                req.host,
                req.service_name,
                req.service_type,
                req.resource_arn,
            ],
            ascii: Cell::new(0),
            known: Cell::new(0),
        }
    }

    /// Whether field number `field` is known (non-empty) ASCII text, which
    /// can be compared a word at a time.
    #[inline]
    pub(crate) fn is_ascii(&self, field: usize) -> bool {
        let bit = 1u8 << (field % FIELDS);
        if self.known.get() & bit == 0 {
            let text = self.raw[field % FIELDS].as_bytes();
            if !text.is_empty() && is_ascii(text) {
                self.ascii.set(self.ascii.get() | bit);
            }
            self.known.set(self.known.get() | bit);
        }
        self.ascii.get() & bit != 0
    }

    /// The text of field number `field` (masked into range) as bytes, if
    /// it can be checked a word at a time.
    #[inline]
    pub(crate) fn checkable(&self, field: u8) -> Option<&'b [u8]> {
        let field = usize::from(field) % FIELDS;
        self.is_ascii(field).then(|| self.raw[field].as_bytes())
    }
}
