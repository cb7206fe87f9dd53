"""Identifiers shared by the Block Kit builders and the listeners: action ids, view
callback ids, the slash command, the shortcut and the delivery metadata type.

They must match `manifest.json` where the manifest names them (the command, the shortcut).
"""

from __future__ import annotations

PLATFORM = "slack"
COMMAND = "/ask"
SHORTCUT = "find_someone_who_knows"  # message shortcut "Find someone who knows"
DELIVERY_EVENT = "whoknows_delivery"  # message metadata event_type carrying the outbox key

# Buttons on an expert's request (in the DM and in App Home).
ANSWER = "wk_answer"
REFER = "wk_refer"
PASS = "wk_pass"
SNOOZE = "wk_snooze"
EXPERT_ACTIONS = (ANSWER, REFER, PASS, SNOOZE)

# Buttons on a relayed answer, an earlier-answers offer and a follow-up.
RESOLVE = "wk_resolve"  # the asker accepts the answer (the question is resolved)
FOLLOW_UP = "wk_follow_up"
CONFIRM = "wk_confirm"
REPLY = "wk_reply"  # the answerer replies to a follow-up
SIMILAR_HELPED = "wk_similar_helped"
SIMILAR_NOT = "wk_similar_not"

# App Home.
HOME_OPT_OUT = "wk_home_opt_out"
HOME_OPT_IN = "wk_home_opt_in"
HOME_SKILLS = "wk_home_skills"
HOME_LIMITS = "wk_home_limits"
HOME_CLOSE = "wk_home_close"  # close one of my open questions
ADMIN_CHANNEL = "wk_admin_channel"

# Modals (view callback ids).
VIEW_ANSWER = "wk_answer_view"
VIEW_REFER = "wk_refer_view"
VIEW_ASK = "wk_ask_view"
VIEW_FOLLOW_UP = "wk_follow_up_view"
VIEW_REPLY = "wk_reply_view"
VIEW_SKILLS = "wk_skills_view"
VIEW_LIMITS = "wk_limits_view"
VIEW_CHANNEL = "wk_channel_view"

# Input blocks and elements inside modals: (block_id, action_id).
TEXT_INPUT = ("text", "text_input")
NOTE_INPUT = ("note", "note_input")
USER_INPUT = ("user", "user_input")
WHERE_INPUT = ("where", "where_input")
SKILLS_INPUT = ("skills", "skills_input")
MAX_ASKS_INPUT = ("max_asks", "max_asks_input")
QUIET_START_INPUT = ("quiet_start", "quiet_start_input")
QUIET_END_INPUT = ("quiet_end", "quiet_end_input")
CHANNEL_INPUT = ("channel", "channel_input")
ENABLED_INPUT = ("enabled", "enabled_input")
WAIT_INPUT = ("wait", "wait_input")
