//! One resource change of a CloudFormation change set, as the state
//! machine's output lists it and the approval page shows it.

/// One resource change, as the state machine's output lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// "True", "False" or "Conditional" for a Modify.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<String>,
    /// What makes it change, for the approval page: "Properties.QueueName
    /// (requires replacement), from parameter Environment". Never a value:
    /// a NoEcho parameter's must not be shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub causes: Vec<String>,
    /// What CloudFormation will do with the physical resource: `Delete`,
    /// `Retain`, `Snapshot`, `ReplaceAndDelete`, `ReplaceAndRetain` or
    /// `ReplaceAndSnapshot` (API reference, ResourceChange `PolicyAction`),
    /// from the resource's DeletionPolicy and UpdateReplacePolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_action: Option<String>,
}

impl Change {
    /// A removal CloudFormation carries out by leaving the resource in
    /// place: its DeletionPolicy is `Retain` (or `RetainExceptOnCreate`,
    /// which is `Retain` for an update), so only the stack forgets it
    /// (user guide, "DeletionPolicy attribute"). CDK retains each old
    /// Lambda version this way on every code change.
    pub fn retained(&self) -> bool {
        self.action == "Remove" && self.policy_action.as_deref() == Some("Retain")
    }

    /// A replacement that keeps the old resource (UpdateReplacePolicy
    /// `Retain`): still a new resource in its place, so still risky.
    pub fn replaced_old_retained(&self) -> bool {
        self.policy_action.as_deref() == Some("ReplaceAndRetain")
    }

    /// What the safety gate refuses without `allowReplacements`: a removal
    /// that deletes the resource, or a modification that replaces it
    /// (`Replacement: True`).
    pub fn is_risky(&self) -> bool {
        (self.action == "Remove" && !self.retained()) || self.replacement.as_deref() == Some("True")
    }

    /// The action as the change tables show it: "Remove (retained)" for a
    /// removal that leaves the resource in place.
    pub fn action_shown(&self) -> String {
        if self.retained() {
            format!("{} (retained)", self.action)
        } else {
            self.action.clone()
        }
    }
}
