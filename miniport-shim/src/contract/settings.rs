//! The monitor settings, carried by a set of the private OID, and their validation.
#![forbid(unsafe_code)]

use super::wire::{self, ENVELOPE_LEN, put_envelope, put_u32, u32_at};
use super::{DecodeError, REVISION, SETTINGS_TAG};

/// Encoded size of revision-1 settings.
pub const SETTINGS_LEN_V1: usize = 52;

/// Buckets of the error-rate sliding window; the window length must be a multiple of it.
pub const WINDOW_BUCKETS: u32 = 16;

const TX_TIMEOUT: usize = ENVELOPE_LEN;
const ERROR_WINDOW: usize = 24;
const ERROR_RATE: usize = 28;
const ERROR_MIN_SAMPLES: usize = 32;
const HEARTBEAT_MISSES: usize = 36;
const DEBOUNCE: usize = 40;
const HYSTERESIS: usize = 44;
const RESERVED: usize = 48;

/// How the health monitor decides. All times in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Settings {
    /// Sends pending with no completion for this long make a TX stall.
    pub tx_timeout_ms: u32,
    /// Length of the error-rate sliding window; a multiple of [`WINDOW_BUCKETS`].
    pub error_window_ms: u32,
    /// Errors per thousand completions in the window at or above which the rate condition holds.
    pub error_rate_permille: u32,
    /// Completions the window must hold before the rate is judged at all.
    pub error_min_samples: u32,
    /// Heartbeat probes unanswered in a row that make the heartbeat condition; 0 disables it.
    pub heartbeat_misses: u32,
    /// A condition must hold this long before Failed is emitted.
    pub debounce_ms: u32,
    /// All conditions must stay clear this long before Recovered is emitted.
    pub hysteresis_ms: u32,
}

impl Default for Settings {
    /// The defaults `docs/miniport-shim.md` justifies.
    fn default() -> Self {
        Self {
            tx_timeout_ms: 2_000,
            error_window_ms: 3_200,
            error_rate_permille: 200,
            error_min_samples: 32,
            heartbeat_misses: 3,
            debounce_ms: 500,
            hysteresis_ms: 3_000,
        }
    }
}

/// A setting named in a [`SettingsError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingField {
    /// [`Settings::tx_timeout_ms`].
    TxTimeout,
    /// [`Settings::error_window_ms`].
    ErrorWindow,
    /// [`Settings::error_rate_permille`].
    ErrorRate,
    /// [`Settings::error_min_samples`].
    ErrorMinSamples,
    /// [`Settings::heartbeat_misses`].
    HeartbeatMisses,
    /// [`Settings::debounce_ms`].
    Debounce,
    /// [`Settings::hysteresis_ms`].
    Hysteresis,
}

/// Why settings were refused. The monitor keeps its previous settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SettingsError {
    /// A value outside its allowed range.
    OutOfRange {
        /// Which setting.
        field: SettingField,
        /// The value given.
        value: u32,
        /// Smallest allowed value.
        min: u32,
        /// Largest allowed value.
        max: u32,
    },
    /// The window length is not a multiple of [`WINDOW_BUCKETS`].
    WindowNotBucketMultiple(u32),
}

impl core::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OutOfRange {
                field,
                value,
                min,
                max,
            } => write!(f, "{field:?} = {value} is outside {min}..={max}"),
            Self::WindowNotBucketMultiple(v) => {
                write!(
                    f,
                    "error window {v} ms is not a multiple of {WINDOW_BUCKETS}"
                )
            }
        }
    }
}

impl Settings {
    /// The allowed range of each setting. Bounds keep every product the monitor forms inside
    /// `u64` and reject values that cannot be meant (a zero timeout, a rate above 100 %).
    pub const fn range(field: SettingField) -> (u32, u32) {
        match field {
            SettingField::TxTimeout => (10, 600_000),
            SettingField::ErrorWindow => (160, 600_000),
            SettingField::ErrorRate => (1, 1_000),
            SettingField::ErrorMinSamples => (1, 1_000_000),
            SettingField::HeartbeatMisses => (0, 1_000),
            SettingField::Debounce => (0, 60_000),
            SettingField::Hysteresis => (0, 600_000),
        }
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// The first setting out of range, or a window that is not a bucket multiple.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let fields = [
            (SettingField::TxTimeout, self.tx_timeout_ms),
            (SettingField::ErrorWindow, self.error_window_ms),
            (SettingField::ErrorRate, self.error_rate_permille),
            (SettingField::ErrorMinSamples, self.error_min_samples),
            (SettingField::HeartbeatMisses, self.heartbeat_misses),
            (SettingField::Debounce, self.debounce_ms),
            (SettingField::Hysteresis, self.hysteresis_ms),
        ];
        for (field, value) in fields {
            let (min, max) = Self::range(field);
            if !(min..=max).contains(&value) {
                return Err(SettingsError::OutOfRange {
                    field,
                    value,
                    min,
                    max,
                });
            }
        }
        if !self.error_window_ms.is_multiple_of(WINDOW_BUCKETS) {
            return Err(SettingsError::WindowNotBucketMultiple(self.error_window_ms));
        }
        Ok(())
    }

    /// Encodes the revision-1 wire form (validity is the reader's business).
    pub fn encode(&self) -> [u8; SETTINGS_LEN_V1] {
        let mut b = [0u8; SETTINGS_LEN_V1];
        put_envelope(&mut b, SETTINGS_TAG, REVISION, SETTINGS_LEN_V1);
        put_u32(&mut b, TX_TIMEOUT, self.tx_timeout_ms);
        put_u32(&mut b, ERROR_WINDOW, self.error_window_ms);
        put_u32(&mut b, ERROR_RATE, self.error_rate_permille);
        put_u32(&mut b, ERROR_MIN_SAMPLES, self.error_min_samples);
        put_u32(&mut b, HEARTBEAT_MISSES, self.heartbeat_misses);
        put_u32(&mut b, DEBOUNCE, self.debounce_ms);
        put_u32(&mut b, HYSTERESIS, self.hysteresis_ms);
        put_u32(&mut b, RESERVED, 0);
        b
    }

    /// Decodes a set buffer (a newer revision by its revision-1 prefix). Does not validate: call
    /// [`Settings::validate`], as [`crate::Monitor::set_settings`] does.
    ///
    /// # Errors
    /// A truncated, foreign or malformed buffer, as a [`DecodeError`].
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        wire::check_envelope(b, SETTINGS_TAG, SETTINGS_LEN_V1)?;
        Ok(Self {
            tx_timeout_ms: u32_at(b, TX_TIMEOUT),
            error_window_ms: u32_at(b, ERROR_WINDOW),
            error_rate_permille: u32_at(b, ERROR_RATE),
            error_min_samples: u32_at(b, ERROR_MIN_SAMPLES),
            heartbeat_misses: u32_at(b, HEARTBEAT_MISSES),
            debounce_ms: u32_at(b, DEBOUNCE),
            hysteresis_ms: u32_at(b, HYSTERESIS),
        })
    }
}
