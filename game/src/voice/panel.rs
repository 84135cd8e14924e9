//! The voice settings in the People panel: how the microphone opens, the microphone's
//! level, which microphone and speaker, the frame length and bitrate, and how loud each
//! person is.

use bevy::prelude::*;
use bevy_egui::egui;
use sanctuary_protocols::FrameDuration;
use sanctuary_voice::TalkMode;

use super::engine::{InputChoice, OutputChoice};
use super::plugin::{OPEN_MIC_THRESHOLD_DB, VoiceControl, VoiceLink, VoiceOptions};
use crate::people::Roster;

/// The voice settings, drawn in the People panel: how the microphone opens, its level,
/// which microphone and speaker, and how loud each person is.
pub fn voice_settings(
    ui: &mut egui::Ui,
    link: &VoiceLink,
    control: &mut VoiceControl,
    options: &mut VoiceOptions,
    roster: &Roster,
) {
    let report = &control.report;
    if let Some(problem) = &report.problem {
        ui.colored_label(egui::Color32::LIGHT_RED, problem);
    }
    ui.horizontal(|ui| {
        let mut open_mic = options.open_mic;
        ui.radio_value(&mut open_mic, false, "Hold V to talk");
        ui.radio_value(&mut open_mic, true, "Open microphone");
        if open_mic != options.open_mic {
            options.open_mic = open_mic;
            link.set_mode(if open_mic {
                TalkMode::OpenMic {
                    threshold_db: OPEN_MIC_THRESHOLD_DB,
                }
            } else {
                TalkMode::PushToTalk
            });
        }
    });
    // The level from -60 dBFS (empty) to 0 (full).
    let level = ((report.mic_level_db + 60.0) / 60.0).clamp(0.0, 1.0);
    ui.horizontal(|ui| {
        ui.label("Microphone");
        ui.add(
            egui::ProgressBar::new(level)
                .desired_width(160.0)
                .text(if report.talking { "talking" } else { "" }),
        );
    });
    let mut input = options.input.clone();
    let mut output = options.output.clone();
    microphone_picker(ui, &report.input_names, &mut input, report.input.as_deref());
    speaker_picker(ui, &report.output_names, &mut output, report.output.as_deref());
    if input != options.input || output != options.output {
        options.input = input.clone();
        options.output = output.clone();
        link.use_devices(input, output);
    }
    ui.horizontal(|ui| {
        let mut short = options.frame == FrameDuration::Ms10;
        if ui.checkbox(&mut short, "Short frames (10 ms)").changed() {
            options.frame = if short {
                FrameDuration::Ms10
            } else {
                FrameDuration::Ms20
            };
            link.set_frame(options.frame);
        }
        // What goes out now: the bitrate follows the loss listeners report.
        ui.label(format!(
            "sending {} kbit/s, {} ms frames",
            report.bitrate_kbps, report.frame_ms
        ));
    });
    if let Some(partner) = control.call {
        ui.label(format!("In a private call with {}", roster.name_of(&partner)));
    }
    for (peer, entry) in &roster.people {
        ui.horizontal(|ui| {
            let mut volume = control.volumes.get(peer).copied().unwrap_or(1.0);
            ui.label(&entry.name);
            if ui
                .add(egui::Slider::new(&mut volume, 0.0..=2.0).text("volume"))
                .changed()
            {
                control.volumes.insert(*peer, volume);
            }
        });
    }
}

fn microphone_picker(ui: &mut egui::Ui, names: &[String], choice: &mut InputChoice, in_use: Option<&str>) {
    ui.horizontal(|ui| {
        ui.label("Microphone");
        egui::ComboBox::from_id_salt("voice-input")
            .selected_text(in_use.unwrap_or("none"))
            .show_ui(ui, |ui| {
                ui.selectable_value(choice, InputChoice::Device(None), "Default");
                for name in names {
                    ui.selectable_value(choice, InputChoice::Device(Some(name.clone())), name);
                }
            });
    });
}

fn speaker_picker(ui: &mut egui::Ui, names: &[String], choice: &mut OutputChoice, in_use: Option<&str>) {
    ui.horizontal(|ui| {
        ui.label("Speaker");
        egui::ComboBox::from_id_salt("voice-output")
            .selected_text(in_use.unwrap_or("none"))
            .show_ui(ui, |ui| {
                ui.selectable_value(choice, OutputChoice::Device(None), "Default");
                for name in names {
                    ui.selectable_value(choice, OutputChoice::Device(Some(name.clone())), name);
                }
            });
    });
}
