//! CreateCustomActionType, ListActionTypes, DeleteCustomActionType, and the
//! one AWS-owned action type the local service runs itself (S3 source).

use super::protocol::{ApiError, ApiResult, check_len, decode, paginate};
use super::store::Store;
use cpsf_worker::pipeline::wire::{
    ActionType, ActionTypeId, ActionTypeSettings, ArtifactDetails, CATEGORIES,
    ConfigurationProperty,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// Limits of custom action types (the API model; AWS CodePipeline quotas).
const MAX_CONFIGURATION_PROPERTIES: usize = 10;
const MAX_ARTIFACTS: i64 = 5;

/// `AWS/Source/S3`: the source action the local service implements.
pub fn s3_source_type() -> ActionType {
    let property = |name: &str, required: bool, kind: &str| ConfigurationProperty {
        name: name.into(),
        required,
        key: required,
        secret: false,
        queryable: false,
        description: None,
        kind: Some(kind.into()),
    };
    ActionType {
        id: ActionTypeId {
            category: "Source".into(),
            owner: "AWS".into(),
            provider: "S3".into(),
            version: "1".into(),
        },
        settings: ActionTypeSettings::default(),
        action_configuration_properties: vec![
            property("S3Bucket", true, "String"),
            property("S3ObjectKey", true, "String"),
            property("PollForSourceChanges", false, "Boolean"),
        ],
        input_artifact_details: ArtifactDetails {
            minimum_count: 0,
            maximum_count: 0,
        },
        output_artifact_details: ArtifactDetails {
            minimum_count: 1,
            maximum_count: 1,
        },
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateInput {
    category: String,
    provider: String,
    version: String,
    #[serde(default)]
    settings: ActionTypeSettings,
    #[serde(default)]
    configuration_properties: Vec<ConfigurationProperty>,
    input_artifact_details: ArtifactDetails,
    output_artifact_details: ArtifactDetails,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeleteInput {
    category: String,
    provider: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListInput {
    action_owner_filter: Option<String>,
    next_token: Option<String>,
}

impl Store {
    /// Looks up an action type, AWS-owned or custom.
    pub fn action_type(&self, id: &ActionTypeId) -> Option<ActionType> {
        let builtin = s3_source_type();
        if builtin.id == *id {
            return Some(builtin);
        }
        self.action_types.get(id).cloned()
    }

    pub fn create_custom_action_type(&mut self, input: Value) -> ApiResult {
        let input: CreateInput = decode(input)?;
        let id = custom_type_id(input.category, input.provider, input.version);
        validate_new_type(&id, &input.configuration_properties)?;
        for (member, details) in [
            ("inputArtifactDetails", input.input_artifact_details),
            ("outputArtifactDetails", input.output_artifact_details),
        ] {
            validate_artifact_details(member, details)?;
        }
        let action_type = ActionType {
            id: id.clone(),
            settings: input.settings,
            action_configuration_properties: input.configuration_properties,
            input_artifact_details: input.input_artifact_details,
            output_artifact_details: input.output_artifact_details,
        };
        if self.deleted_action_types.contains(&id) {
            return Err(ApiError::validation(format!(
                "Action type {id} was deleted and cannot be created again; use a new version"
            )));
        }
        match self.action_types.get(&id) {
            // Creating the same definition twice is harmless: set-up
            // scripts can run again.
            Some(existing) if *existing == action_type => {}
            Some(_) => {
                return Err(ApiError::validation(format!(
                    "Action type {id} already exists with a different definition; \
                     create it under a new version"
                )));
            }
            None => {
                self.action_types.insert(id, action_type.clone());
            }
        }
        Ok(json!({ "actionType": action_type }))
    }

    pub fn list_action_types(&mut self, input: Value) -> ApiResult {
        let input: ListInput = decode(input)?;
        let mut types = vec![s3_source_type()];
        types.extend(self.action_types.values().cloned());
        if let Some(owner) = &input.action_owner_filter {
            types.retain(|t| t.id.owner == *owner);
        }
        let (page, next) = paginate(&types, input.next_token.as_deref(), None, 100)?;
        Ok(json!({ "actionTypes": page, "nextToken": next }))
    }

    pub fn delete_custom_action_type(&mut self, input: Value) -> ApiResult {
        let input: DeleteInput = decode(input)?;
        let id = custom_type_id(input.category, input.provider, input.version);
        if self.action_types.remove(&id).is_none() {
            return Err(ApiError::validation(format!(
                "Action type {id} does not exist"
            )));
        }
        self.deleted_action_types.insert(id);
        Ok(json!({}))
    }
}

fn custom_type_id(category: String, provider: String, version: String) -> ActionTypeId {
    ActionTypeId {
        category,
        owner: "Custom".into(),
        provider,
        version,
    }
}

fn validate_new_type(
    id: &ActionTypeId,
    properties: &[ConfigurationProperty],
) -> Result<(), ApiError> {
    if !CATEGORIES.contains(&id.category.as_str()) {
        return Err(ApiError::validation(format!(
            "category '{}' is not one of {}",
            id.category,
            CATEGORIES.join(", ")
        )));
    }
    check_len("provider", &id.provider, 35)?;
    check_len("version", &id.version, 9)?;
    if id.provider.is_empty() || id.version.is_empty() {
        return Err(ApiError::validation(
            "provider and version must not be empty",
        ));
    }
    // The API model caps the list (ActionConfigurationPropertyList: max
    // 10), and AWS checks the model before anything else: a
    // ValidationException, not the LimitExceededException of the account's
    // action type quota.
    if properties.len() > MAX_CONFIGURATION_PROPERTIES {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at 'configurationProperties' failed to satisfy \
             constraint: Member must have length less than or equal to \
             {MAX_CONFIGURATION_PROPERTIES}"
        )));
    }
    let queryable: Vec<&ConfigurationProperty> =
        properties.iter().filter(|p| p.queryable).collect();
    if queryable.len() > 1 {
        return Err(ApiError::validation(
            "At most one configuration property can be queryable",
        ));
    }
    if let Some(q) = queryable.first()
        && (!q.required || q.secret)
    {
        return Err(ApiError::validation(format!(
            "Queryable property '{}' must be required and not secret",
            q.name
        )));
    }
    let mut names: Vec<&str> = properties.iter().map(|p| p.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(ApiError::validation(format!(
            "Configuration property '{}' is declared twice",
            w[0]
        )));
    }
    Ok(())
}

fn validate_artifact_details(member: &str, details: ArtifactDetails) -> Result<(), ApiError> {
    let ok = (0..=MAX_ARTIFACTS).contains(&details.minimum_count)
        && (0..=MAX_ARTIFACTS).contains(&details.maximum_count)
        && details.minimum_count <= details.maximum_count;
    if ok {
        Ok(())
    } else {
        Err(ApiError::validation(format!(
            "{member}: minimumCount and maximumCount must be within 0..{MAX_ARTIFACTS} \
             and minimumCount <= maximumCount"
        )))
    }
}
