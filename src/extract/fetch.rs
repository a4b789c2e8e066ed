//! Pure: the bytes of one attachment of a stored email, found by the SHA-256 the draft shows, for
//! a download. Reaches the parts of a MIME message and of the messages attached to it
//! (`message/rfc822`, nested at most [`MAX_DEPTH`] deep); not archive members or the attachments
//! of an Outlook `.msg` (`None`).

use sha2::{Digest, Sha256};

const MAX_DEPTH: usize = 8;

pub fn attachment_by_sha256(raw: &[u8], sha256: &str) -> Option<Vec<u8>> {
    let want = sha256.to_ascii_lowercase();
    let message = super::walk::parse_mime(raw).ok().flatten()?;
    find(&message, &want, 0)
}

fn find(message: &mail_parser::Message<'_>, want: &str, depth: usize) -> Option<Vec<u8>> {
    if depth > MAX_DEPTH {
        return None;
    }
    for part in &message.parts {
        if let mail_parser::PartType::Message(nested) = &part.body
            && let Some(found) = find(nested, want, depth + 1)
        {
            return Some(found);
        }
        let bytes = part.contents();
        if hex::encode(Sha256::digest(bytes)) == want {
            return Some(bytes.to_vec());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_attachment_of_an_attached_message_by_its_hash() {
        let inner = "Subject: inner\r\nContent-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\nContent-Type: text/plain\r\n\r\nhi\r\n--i\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n--i--\r\n";
        let outer = format!(
            "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n{inner}\r\n--o--\r\n"
        );
        let want = hex::encode(Sha256::digest([0u8, 1, 2, 3]));
        assert_eq!(attachment_by_sha256(outer.as_bytes(), &want), Some(vec![0, 1, 2, 3]));
        assert_eq!(attachment_by_sha256(outer.as_bytes(), &"0".repeat(64)), None);
        assert_eq!(attachment_by_sha256(b"\xff\xfe not mail", &want), None);
    }
}
