//! The request's fields as a decision sees them: indexed by [`Field`], with
//! the fields that can be compared a word at a time marked.

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
/// beyond ASCII).
pub(crate) struct Texts<'b> {
    pub(crate) raw: [&'b str; FIELDS],
    /// Bit per field that is known (non-empty), ASCII, and checked by some
    /// rule.
    pub(crate) ascii: u8,
}

impl<'b> Texts<'b> {
    /// The fields of `req`; ASCII-ness is only worked out for the fields in
    /// `used` (a bit per [`Field`]), those some rule checks.
    #[inline]
    pub(crate) fn new(req: &SamplingRequest<'b>, used: u8) -> Self {
        let mut texts = Texts {
            raw: [
                req.url_path,
                req.http_method,
                req.host,
                req.service_name,
                req.service_type,
                req.resource_arn,
            ],
            ascii: 0,
        };
        let mut fields = used;
        while fields != 0 {
            let field = fields.trailing_zeros() as usize;
            fields &= fields - 1;
            let text = texts.raw[field % FIELDS].as_bytes();
            if !text.is_empty() && is_ascii(text) {
                texts.ascii |= 1 << field;
            }
        }
        texts
    }

    /// The text of field number `field` (masked into range) as bytes, if
    /// it can be checked a word at a time.
    #[inline]
    pub(crate) fn checkable(&self, field: u8) -> Option<&'b [u8]> {
        let field = usize::from(field) % FIELDS;
        (self.ascii & (1 << field) != 0).then(|| self.raw[field].as_bytes())
    }
}
