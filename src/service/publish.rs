//! Publication: the built-in `active-indicators` collection, our organisation's `identity`, and
//! the STIX objects of an indicator's versions (design.md §2). Every status change that affects
//! publication is a new version of the indicator SDO stored in the collection, so TAXII pollers
//! using `added_after` see it; nothing published is ever deleted. Nothing above the collection's
//! TLP ceiling (AMBER unless an administrator changes it) is published: each object is judged by
//! its own markings and by the TLP of the indicator it belongs to.

use serde_json::Value;

use super::ServiceError;
use crate::db::indicators::{IndicatorChanges, IndicatorRow};
use crate::db::objects::{self, NewObject, Writer};
use crate::db::{DbConn, collections, secrets};
use crate::extract::ObservableKind;
use crate::stix::objects::{
    DomainName, EmailAddr, File, HashAlgorithm, Hashes, Identity, Indicator, Ipv4Addr, Ipv6Addr,
    ObservedData, Relationship, Sdo, StixObject, Url,
};
use crate::stix::{Pattern, PatternTerm, StixId, StixTimestamp, Tlp, Tlp1, Tlp2};

/// The alias (and path segment) of the built-in collection of Active indicators.
pub const ACTIVE_ALIAS: &str = "active-indicators";

/// TLP levels as Harpoon stores them (TLP 2.0 names), least to most restrictive.
pub const TLP_LEVELS: [&str; 5] = ["clear", "green", "amber", "amber+strict", "red"];

/// Which TLP marking definitions we emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlpVersion {
    V1,
    V2,
}

/// What one indicator version says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionState {
    /// Valid from this time on.
    Active { valid_from: i64 },
    /// Was valid from `valid_from` until `until` (left Active for a reason that may be undone).
    Inactive { valid_from: i64, until: i64 },
    /// Whitelisted: `revoked: true`; the indicator gets a new STIX id if it is ever re-activated.
    Revoked { valid_from: i64 },
}

/// The objects of one version and the row changes that record it.
#[derive(Debug, Clone)]
pub struct Version {
    pub objects: Vec<Value>,
    pub changes: IndicatorChanges,
}

/// Publishing context, built at start: the collection and the identity that authors our objects.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub collection_id: String,
    pub identity: Value,
    pub identity_id: StixId,
    pub tlp_version: TlpVersion,
}

impl Publisher {
    /// Publishes the sightings kept for an indicator's current STIX id while it was not Active
    /// (called when it becomes Active, inside that transaction), within the TLP ceiling.
    pub fn publish_pending(&self, conn: &mut DbConn, stix_id: &str, tlp: Tlp2) -> Result<(), ServiceError> {
        for s in crate::db::operations::unpublished_of(conn, stix_id)? {
            let objects: Vec<Value> = serde_json::from_str(&s.objects)
                .map_err(|e| ServiceError::Internal(format!("sighting {}: stored objects: {e}", s.id)))?;
            if self.publish(conn, &objects, tlp)? {
                crate::db::operations::mark_published(conn, s.id)?;
            }
        }
        Ok(())
    }

    /// Finds or creates the `active-indicators` collection and our identity, and makes sure the
    /// collection holds the identity and the TLP marking definitions its objects refer to.
    pub fn ensure(
        conn: &mut DbConn,
        organisation: &str,
        tlp_version: TlpVersion,
    ) -> Result<Self, ServiceError> {
        let identity_text = secrets::get_or_create(conn, "organisation-identity", || {
            Identity::organization(organisation)
                .and_then(|i| StixObject::from(i).to_value())
                .map(|v| v.to_string())
                .unwrap_or_default()
        })?;
        let identity: Value = serde_json::from_str(&identity_text)
            .map_err(|e| ServiceError::Internal(format!("stored organisation identity is corrupt: {e}")))?;
        let identity_id = identity
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| StixId::parse(s).ok())
            .ok_or_else(|| ServiceError::Internal("stored organisation identity has no id".into()))?;
        let collection_id = match collections::by_id_or_alias(conn, ACTIVE_ALIAS)? {
            Some(row) => row.id,
            None => {
                let id = uuid::Uuid::new_v4().to_string();
                let new = collections::NewCollection {
                    id: &id,
                    title: "Active indicators",
                    alias: Some(ACTIVE_ALIAS),
                    description: Some(
                        "Every Active indicator with the observables and relationships it needs; \
                         leaving Active is a new version (valid_until, or revoked when whitelisted)",
                    ),
                    public_read: false,
                    kind: "computed",
                    created_at: crate::db::now_micros(),
                    api_root: super::collections::DEFAULT_API_ROOT,
                    intake: false,
                    tlp_ceiling: super::tlp::DEFAULT_CEILING.rank(),
                    share_target: false,
                };
                match collections::insert(conn, &new, &[]) {
                    Ok(row) => row.id,
                    // Another instance created it at the same moment.
                    Err(crate::db::DbError::Conflict(_)) => {
                        collections::by_id_or_alias(conn, ACTIVE_ALIAS)?
                            .ok_or_else(|| ServiceError::Internal("active-indicators vanished".into()))?
                            .id
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        };
        let publisher = Self { collection_id, identity, identity_id, tlp_version };
        let mut base = vec![publisher.identity.clone()];
        for level in Tlp2::ALL {
            let definition = StixObject::from(publisher.tlp(level).definition()).to_value()?;
            if !base.contains(&definition) {
                base.push(definition);
            }
        }
        let rows = base.iter().map(new_object).collect::<Result<Vec<_>, _>>()?;
        objects::add_to_collection(conn, &publisher.collection_id, &rows, Writer::Publisher)?;
        Ok(publisher)
    }

    /// The marking of a level in the TLP version this server emits.
    pub fn tlp(&self, level: Tlp2) -> Tlp {
        match self.tlp_version {
            TlpVersion::V2 => Tlp::V2(level),
            TlpVersion::V1 => Tlp::V1(match level {
                Tlp2::Clear => Tlp1::White,
                Tlp2::Green => Tlp1::Green,
                Tlp2::Amber | Tlp2::AmberStrict => Tlp1::Amber,
                Tlp2::Red => Tlp1::Red,
            }),
        }
    }

    /// The objects our objects refer to: the identity and the marking definition of `tlp`.
    pub fn base_objects(&self, tlp: Tlp2) -> Result<Vec<Value>, ServiceError> {
        Ok(vec![self.identity.clone(), StixObject::from(self.tlp(tlp).definition()).to_value()?])
    }

    /// The indicator SDO of a row as it stands, on its own (no observed-data or relationship,
    /// whose ids belong to the TAXII collection): the id and timestamps of its latest published
    /// version when it has one, otherwise modified at its last update; `valid_until` for an
    /// Expired one. For exports, and for sharing an indicator `active-indicators` could not
    /// publish (its TLP above that ceiling). `None` for CVE ids.
    pub fn standalone(&self, row: &IndicatorRow, tags: &[String]) -> Result<Option<Value>, ServiceError> {
        let at = row.stix_modified.unwrap_or(row.updated_at);
        let mut as_published = row.clone();
        // `version` moves `modified` past the stored one; this restates it instead.
        as_published.stix_modified = None;
        as_published.stix_created = Some(row.stix_created.unwrap_or(at).min(at));
        as_published.stix_observed_id = Some(String::new());
        use crate::db::indicators::Status;
        let state = if row.status == Status::Expired {
            VersionState::Inactive { valid_from: row.first_seen, until: row.status_changed_at }
        } else if row.status == Status::Active {
            VersionState::Active { valid_from: row.status_changed_at }
        } else {
            VersionState::Active { valid_from: row.first_seen }
        };
        let Some(version) = self.version(&as_published, tags, state, at)? else { return Ok(None) };
        Ok(version.objects.last().cloned())
    }

    /// Builds a version of an indicator, modified at `at` (moved past the previous version if
    /// the clock has not). The observed-data and `based-on` relationship come with the first
    /// version only. `None` for kinds STIX patterns cannot express (CVE ids).
    pub fn version(
        &self,
        row: &IndicatorRow,
        tags: &[String],
        state: VersionState,
        at: i64,
    ) -> Result<Option<Version>, ServiceError> {
        let kind = row.kind;
        let Some((term, sco)) = term_and_sco(kind, &row.value)? else { return Ok(None) };
        let tlp = row.tlp;
        let modified_us = row.stix_modified.map_or(at, |m| at.max(m + 1));
        let created_us = row.stix_created.unwrap_or(modified_us);
        let ts = |us: i64| StixTimestamp::from_micros(us).map_err(ServiceError::from);
        let id = StixId::parse(&row.stix_id)?;
        let (valid_from, valid_until, revoked) = match state {
            VersionState::Active { valid_from } => (valid_from, None, false),
            VersionState::Inactive { valid_from, until } => {
                (valid_from, Some(until.max(valid_from + 1)), false)
            }
            VersionState::Revoked { valid_from } => (valid_from, None, true),
        };
        let description = row.description.clone().unwrap_or_else(|| {
            format!(
                "{} reported in spear-phish email; first seen {}",
                kind_label(kind),
                ts(row.first_seen).map(|t| t.to_string()).unwrap_or_default()
            )
        });
        let mut indicator = Indicator::new(&Pattern::new(term), ts(valid_from)?)?
            .described(&row.value, &description)
            .with_type("malicious-activity")
            .created_by(&self.identity_id)?
            .with_tlp(self.tlp(tlp))
            .with_confidence(u8::try_from(row.score.clamp(0, 100)).unwrap_or(50))?;
        for tag in tags.iter().filter(|t| !t.trim().is_empty()) {
            indicator = indicator.with_label(tag);
        }
        indicator.common.id = id.clone();
        indicator.common.created = ts(created_us)?;
        indicator.common.modified = ts(modified_us)?;
        indicator.common.revoked = revoked;
        if let Some(until) = valid_until {
            indicator = indicator.with_valid_until(ts(until)?)?;
        }
        let mut out = Vec::new();
        let mut changes = IndicatorChanges {
            stix_created: Some(Some(created_us)),
            stix_modified: Some(Some(modified_us)),
            ..IndicatorChanges::default()
        };
        if row.stix_observed_id.is_none() {
            let sco_id = sco.id()?;
            let first = ts(row.first_seen)?;
            let last = ts(row.last_seen.max(row.first_seen))?;
            let observed = ObservedData::new(first, last, 1, vec![sco_id])?
                .created_at(ts(modified_us)?)
                .created_by(&self.identity_id)?
                .with_tlp(self.tlp(tlp));
            let based_on = Relationship::based_on(&id, observed.id())?
                .created_at(ts(modified_us)?)
                .created_by(&self.identity_id)?
                .with_tlp(self.tlp(tlp));
            changes.stix_observed_id = Some(Some(observed.id().to_string()));
            changes.stix_based_on_id = Some(Some(based_on.id().to_string()));
            out.push(sco.to_value()?);
            out.push(StixObject::from(observed).to_value()?);
            out.push(StixObject::from(based_on).to_value()?);
        }
        out.push(StixObject::from(indicator).to_value()?);
        Ok(Some(Version { objects: out, changes }))
    }

    /// The row as [`Self::version`] should see it. When the observed-data published with an
    /// indicator's first version names another SCO than the one its value is emitted as today
    /// (a URL published before `stix::uri` encoded what RFC 3986 forbids, e.g. `[` in a path;
    /// an IPv6 address published with an embedded IPv4 quad), the observation counts as not yet
    /// published: the next version then brings the valid SCO, a new observed-data and a new
    /// `based-on`, so its pattern and its observation agree. Stored objects are never
    /// rewritten; the old observation stays a true statement.
    pub fn with_current_observation(
        &self,
        conn: &mut DbConn,
        row: &IndicatorRow,
    ) -> Result<IndicatorRow, ServiceError> {
        let mut row = row.clone();
        // Only these kinds have changed their emitted form (`stix::uri`, hex IPv6).
        let (Some(observed_id), Some(kind @ (ObservableKind::Url | ObservableKind::Ipv6))) =
            (row.stix_observed_id.as_deref(), Some(row.kind))
        else {
            return Ok(row);
        };
        let Some((_, sco)) = term_and_sco(kind, &row.value)? else { return Ok(row) };
        let sco_id = sco.id()?.to_string();
        let names_it = objects::latest_json(conn, &self.collection_id, observed_id)?
            .and_then(|json| serde_json::from_str::<Value>(&json).ok())
            .and_then(|o| o.get("object_refs").and_then(Value::as_array).cloned())
            .is_some_and(|refs| refs.iter().any(|r| r.as_str() == Some(sco_id.as_str())));
        if !names_it {
            row.stix_observed_id = None;
        }
        Ok(row)
    }

    /// The TLP ceiling of `active-indicators` as it stands (administrators may change it).
    pub fn ceiling(&self, conn: &mut DbConn) -> Result<Tlp2, ServiceError> {
        let row = collections::by_id_or_alias(conn, &self.collection_id)?
            .ok_or_else(|| ServiceError::Internal("active-indicators vanished".into()))?;
        Ok(super::tlp::ceiling(&row))
    }

    /// Stores objects about one indicator of TLP `tlp` (a version, its sightings, its notes) in
    /// the `active-indicators` collection, inside the caller's transaction. Each is judged by
    /// the indicator's TLP and its own markings; anything above the ceiling makes the whole set
    /// unpublished (a sighting or relationship never goes without its indicator). Returns
    /// whether it was published.
    pub fn publish(&self, conn: &mut DbConn, objects: &[Value], tlp: Tlp2) -> Result<bool, ServiceError> {
        let ceiling = self.ceiling(conn)?;
        let levels: Vec<Tlp2> = objects
            .iter()
            .map(|o| crate::stix::marking::carried(o).map_or(tlp, |own| own.max(tlp)))
            .collect();
        if levels.iter().any(|level| *level > ceiling) {
            return Ok(false);
        }
        let rows = objects.iter().map(new_object).collect::<Result<Vec<_>, _>>()?;
        let ranks: Vec<i32> = levels.iter().map(|l| l.rank()).collect();
        objects::add_in_transaction(conn, &self.collection_id, &rows, &ranks, Writer::Publisher)?;
        Ok(true)
    }

    /// Stops serving what was published of an indicator whose own TLP is now above the
    /// collection's ceiling: its versions, observed-data, and whatever refers to it (`based-on`,
    /// sightings, notes). Objects shared with other indicators (SCOs) stay.
    pub fn withhold(&self, conn: &mut DbConn, row: &IndicatorRow) -> Result<(), ServiceError> {
        let tlp = row.tlp;
        if tlp <= self.ceiling(conn)? {
            return Ok(());
        }
        let mut ids = vec![row.stix_id.clone()];
        ids.extend(row.stix_observed_id.iter().chain(&row.stix_based_on_id).cloned());
        objects::withhold(conn, &self.collection_id, &ids, tlp.rank())?;
        Ok(())
    }
}

fn kind_label(kind: ObservableKind) -> &'static str {
    match kind {
        ObservableKind::Url => "URL",
        ObservableKind::Domain => "Domain",
        ObservableKind::Ipv4 | ObservableKind::Ipv6 => "IP address",
        ObservableKind::Email => "Email address",
        ObservableKind::Md5 | ObservableKind::Sha1 | ObservableKind::Sha256 | ObservableKind::Sha512 => {
            "File hash"
        }
        ObservableKind::Cve => "Vulnerability",
    }
}

/// The pattern term and the SCO of a value; `None` for CVE ids (no STIX pattern for them) and
/// for host names that cannot be a valid `domain-name`.
pub fn term_and_sco(
    kind: ObservableKind,
    value: &str,
) -> Result<Option<(PatternTerm, StixObject)>, ServiceError> {
    let hash = |alg: HashAlgorithm| -> Result<(PatternTerm, StixObject), ServiceError> {
        Ok((PatternTerm::file_hash(alg, value)?, File::with_hashes(Hashes::new().with(alg, value)?)?.into()))
    };
    Ok(Some(match kind {
        // Both in the emitted URI form (`stix::uri`); the as-found value stays the indicator's
        // identity in the database and its `name`.
        ObservableKind::Url => (PatternTerm::url(value)?, Url::from_iri(value)?.into()),
        ObservableKind::Domain => match DomainName::new(value) {
            Ok(sco) => (PatternTerm::domain_name(value)?, sco.into()),
            // A name IDNA2008 refuses (`r3--sn-x.example`) has no valid `domain-name`: it
            // stays usable in the text exports and rules, and is not published as STIX.
            Err(_) => return Ok(None),
        },
        ObservableKind::Ipv4 => (PatternTerm::ipv4(value)?, Ipv4Addr::new(value)?.into()),
        ObservableKind::Ipv6 => (PatternTerm::ipv6(value)?, Ipv6Addr::new(value)?.into()),
        ObservableKind::Email => (PatternTerm::email_addr(value)?, EmailAddr::new(value)?.into()),
        ObservableKind::Md5 => hash(HashAlgorithm::Md5)?,
        ObservableKind::Sha1 => hash(HashAlgorithm::Sha1)?,
        ObservableKind::Sha256 => hash(HashAlgorithm::Sha256)?,
        ObservableKind::Sha512 => hash(HashAlgorithm::Sha512)?,
        ObservableKind::Cve => return Ok(None),
    }))
}

/// The store row of one of our own objects (the indexed columns read from its JSON).
pub fn new_object(value: &Value) -> Result<NewObject, ServiceError> {
    let text = |k: &str| value.get(k).and_then(Value::as_str);
    let micros = |k: &str| -> Result<Option<i64>, ServiceError> {
        text(k)
            .map(|t| StixTimestamp::parse(t).map(|t| t.as_micros()))
            .transpose()
            .map_err(ServiceError::from)
    };
    let stix_id = text("id").ok_or_else(|| ServiceError::Internal("object without id".into()))?.to_string();
    let stix_type = text("type").unwrap_or_default().to_string();
    let created = micros("created")?;
    let modified = micros("modified")?;
    Ok(NewObject {
        stix_id,
        stix_type,
        spec_version: text("spec_version").unwrap_or("2.1").to_string(),
        created,
        modified,
        version: modified.or(created).unwrap_or(0),
        revoked: value.get("revoked").and_then(Value::as_bool).unwrap_or(false),
        json: value.to_string(),
        content_sha256: crate::stix::canonical::content_sha256(value)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_pattern_compares_exactly_its_scos_value() {
        for found in ["http://x.example/track/[open]", "https://例え.テスト/パス?q=a b", "http://[::1]/a%41"]
        {
            let (term, sco) = term_and_sco(ObservableKind::Url, found).unwrap().unwrap();
            let json = sco.to_value().unwrap();
            assert_eq!(term.value(), json["value"], "{found}");
            assert!(crate::stix::uri::is_uri(term.value()), "{found}");
        }
    }

    #[test]
    fn host_names_without_a_valid_domain_name_are_not_published() {
        assert!(term_and_sco(ObservableKind::Domain, "r3--sn-x.example").unwrap().is_none());
        assert!(term_and_sco(ObservableKind::Domain, "x.example").unwrap().is_some());
        let (term, sco) = term_and_sco(ObservableKind::Ipv6, "::ffff:192.0.2.1").unwrap().unwrap();
        assert_eq!(
            (term.value(), sco.to_value().unwrap()["value"].clone()),
            ("::ffff:c000:201", "::ffff:c000:201".into())
        );
    }
}
