"""The JMA rules as a pure function, on sequences of official samples edited for 真岡市
(area codes rewritten to 0920900 / 090010 / 311, statuses and titles changed, DateTime
moved): no daemon, no store, no clock — ``rules.step`` and ``rules.tick`` only."""

import datetime as dt

import pytest

from announcer.core.clock import TOKYO
from announcer.jma import rules
from announcer.jma import state as st
from announcer.jma.parse import parse
from announcer.jma.policy import Settings
from announcer.jma.wording import Templates, compose
from tests import jmautil as J

T0 = dt.datetime(2026, 7, 1, 5, 10, tzinfo=TOKYO)
MOOKA = Settings()
TEMPLATES = Templates(None).get()


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


class Seq:
    """Messages through ``rules.step`` one after another, as the service would apply
    them: items by id with their status, what was queued to air (and cut in)."""

    def __init__(self, s: Settings = MOOKA):
        self.s, self.state, self.items, self.aired, self.results = s, st.empty(), {}, [], []

    def send(self, data: bytes, now: dt.datetime) -> str:
        out = rules.step(self.state, parse(data), now, self.s)
        self.results.append(out.result)
        if out.accepted:
            self.apply(out)
        return out.result

    def tick(self, now: dt.datetime) -> None:
        self.apply(rules.tick(self.state, now, self.s))

    def approve(self, item_id: str, now: dt.datetime) -> bool:
        out = rules.approve(self.state, item_id, now)
        if out.accepted:
            self.items[item_id]["status"] = "approved"
            self.apply(out)
        return out.accepted

    def apply(self, out) -> None:
        self.state = out.state
        for action in out.actions:
            if action[0] == "new":
                item = dict(action[1], text=compose(action[1]["content"], TOKYO, TEMPLATES))
                self.items[item["id"]] = item
            elif action[0] == "status":
                self.items[action[1]]["status"] = action[2]
            elif action[0] == "air":
                self.aired.append(self.items[action[1]])
            elif action[0] == "cancel":
                self.items[action[1]]["cancelled"] = True

    def of(self, status: str) -> list[dict]:
        return [i for i in self.items.values() if i["status"] == status]

    @property
    def cut_ins(self) -> list[dict]:
        return [i for i in self.aired if i["interrupt"]]


# -- time -------------------------------------------------------------------------------
def test_a_three_day_old_warning_never_airs_by_itself():
    seq = Seq()
    assert seq.send(J.landslide_auto(minutes(-3 * 24 * 60)), T0) == "stale"
    (item,) = seq.items.values()
    assert item["status"] == "stale" and "分たった情報です（放送しません）" in item["reason"]
    assert seq.aired == []


def test_what_only_a_stale_message_said_airs_when_a_fresh_one_confirms_it():
    seq = Seq()
    seq.send(J.landslide_auto(minutes(-3 * 24 * 60)), T0)
    assert seq.send(J.landslide_auto(T0), T0) == "approved"
    assert seq.cut_ins[0]["text"].count("発表されました") == 1


def test_the_2011_earthquake_sample_is_stale_today():
    seq = Seq()
    assert seq.send(J.sample("32-39_11_05_240613_VXSE53.xml"), T0) == "stale"
    assert seq.aired == [] and seq.of("stale")[0]["category"] == "quake_strong"


def test_a_warning_two_hours_old_is_offered_to_staff_with_its_time():
    seq = Seq()
    assert seq.send(J.landslide_auto(minutes(-120)), T0) == "pending"
    (draft,) = seq.of("pending")
    assert draft["text"].startswith("午前3時10分、稚内地方気象台の発表です。1日午前3時10分発表の情報です。")
    assert seq.aired == [] and draft["interrupt"] is False
    seq.tick(minutes(1))
    assert seq.approve(draft["id"], minutes(2)) and seq.aired[0]["interrupt"] is False


def test_a_future_message_is_refused_and_never_becomes_in_force():
    seq = Seq()
    future = J.withdrawal_of(J.landslide_auto(T0), dt.datetime(2099, 1, 1, tzinfo=TOKYO))
    assert seq.send(future, T0).startswith("refused")
    assert seq.state == st.empty()
    assert seq.send(J.at(J.landslide_auto(), minutes(10)), minutes(10)) == "approved"


def test_a_tornado_past_its_validity_is_stale_and_its_draft_dies_with_it():
    seq = Seq()
    assert seq.send(J.tornado_south(minutes(-80)), T0) == "stale"  # valid 69 min
    seq = Seq()
    assert seq.send(J.tornado_south(T0), T0) == "pending"
    (draft,) = seq.of("pending")
    assert draft["expires_at"] == T0 + dt.timedelta(minutes=60) and "まで有効です" in draft["text"]
    seq.tick(minutes(61))
    assert draft["status"] == "expired"


# -- one event, one cut-in ---------------------------------------------------------------
def test_one_quake_flash_and_three_serials_give_one_cut_in_and_one_follow_up():
    seq = Seq()
    seq.send(J.quake_flash(T0), T0)
    for serial in (1, 2, 3):
        seq.send(J.quake_detail(serial, minutes(serial)), minutes(serial))
    assert [i["interrupt"] for i in seq.aired] == [True, False]
    assert [i["type"] for i in seq.aired] == ["VXSE51", "VXSE53"]
    assert seq.results[2:] == ["logged", "logged"]
    follow_up = seq.aired[1]["text"]
    assert "震源の深さは" in follow_up and "この地震による最大震度は" in follow_up
    assert "栃木県南部で震度5弱" in follow_up


def test_a_later_serial_airs_again_only_when_the_local_intensity_rose():
    seq = Seq()
    seq.send(J.quake_detail(1, T0), T0)
    seq.send(J.quake_detail(2, minutes(1)), minutes(1))
    stronger = J.edit(J.quake_detail(3, minutes(2)), ("<MaxInt>5-<", "<MaxInt>6-<"))
    seq.send(stronger, minutes(2))
    assert [i["interrupt"] for i in seq.aired] == [True, False]
    assert seq.results[1] == "logged"


def test_h27_and_r06_of_one_special_warning_air_once_whichever_comes_first():
    for first, second in ((J.special_h27, J.special_r06), (J.special_r06, J.special_h27)):
        seq = Seq()
        seq.send(first(T0), T0)
        seq.send(second(minutes(1)), minutes(1))
        assert len(seq.cut_ins) == 1 and len(seq.aired) == 1
        assert "大雨特別警報が発表されました" in seq.aired[0]["text"]


def test_vxww50_and_vpww56_announce_one_landslide_warning_once():
    seq = Seq()
    seq.send(J.landslide_vxww50(T0), T0)
    seq.send(J.landslide_auto(minutes(1)), minutes(1))
    assert len(seq.aired) == 1 and seq.results[1] == "logged"


def test_vpoa50_and_vpbs50_of_one_observation_air_once():
    seq = Seq()
    assert seq.send(J.rain_vpoa50(T0), T0) == "approved"
    assert seq.send(J.rain_vpbs50(minutes(1)), minutes(1)) == "logged"
    assert len(seq.aired) == 1


def test_h27_level_four_from_its_notice_is_the_r06_danger_warning():
    seq = Seq()
    h27 = J.edit(J.for_mooka("15_17_01_250123_VPWW54.xml", "松江市", "3220100"),
                 ("〉松江市", "〉真岡市"))
    h27 = J.at(J.item_edit(h27, "0920900", ("<Status>継続</Status>", "<Status>発表</Status>")), T0)
    assert seq.send(h27, T0) == "approved"
    assert "真岡市に、レベル４大雨危険警報、" in seq.aired[0]["text"]
    seq.send(J.heavy_rain_r06(4, minutes(1)), minutes(1))
    assert len(seq.aired) == 1


# -- areas ----------------------------------------------------------------------------
def test_a_tornado_for_the_north_only_stays_silent():
    seq = Seq()
    assert seq.send(J.tornado_north(T0), T0) == "ignored: 対象地域外"
    assert seq.items == {}


def test_each_town_is_named_with_its_own_kinds():
    seq = Seq(Settings(areas=("0920900", "0934200")))
    assert seq.send(J.mashiko(T0), T0) == "pending"
    (draft,) = seq.of("pending")
    assert draft["text"].startswith("午前5時9分、気象庁予報部の発表です。益子町に、大雨警報、洪水警報が発表されました。")
    assert "真岡市には、大雨注意報、雷注意報、洪水注意報が引き続き発表されています。" in draft["text"]
    assert "真岡市に、" not in draft["text"]


# -- changes and liftings ------------------------------------------------------------------
def test_a_downgrade_is_a_change_one_step_below_and_never_cuts_in():
    seq = Seq()
    seq.send(J.special_r06(T0), T0)
    assert seq.send(J.heavy_rain_r06(3, minutes(30)), minutes(30)) == "pending"
    (draft,) = seq.of("pending")
    assert "真岡市のレベル５大雨特別警報は、レベル３大雨警報に切り替えられました。" in draft["text"]
    assert draft["decision"] == "approve" and draft["interrupt"] is False


def test_a_from_status_is_a_change_too():
    seq = Seq()
    seq.send(J.special_h27(T0), T0)
    changed = J.item_edit(J.special_h27(minutes(20)), "0920900",
                          ("<Name>大雨特別警報</Name>", "<Name>大雨警報</Name>"),
                          ("<Status>発表</Status>", "<Status>特別警報から警報</Status>"))
    seq.send(changed, minutes(20))
    assert "真岡市の大雨特別警報は、大雨警報に切り替えられました。" in seq.of("pending")[0]["text"]


def test_a_lifting_is_one_step_lower_names_the_end_and_drops_the_headline():
    seq = Seq()
    seq.send(J.storm_approve(T0), T0)
    assert seq.send(J.storm_lifted(minutes(40)), minutes(40)) == "logged"
    lifting = seq.items[max(seq.items)]
    assert "真岡市の暴風警報は、解除されました。真岡市の警報は、すべて解除されました。" in lifting["text"]
    assert "警戒" not in lifting["text"]  # the prefecture's headline is not read after it
    assert lifting["decision"] == "log" and not lifting["interrupt"]


def test_the_end_of_an_auto_aired_special_warning_is_a_draft():
    seq = Seq()
    seq.send(J.special_r06(T0), T0)
    lifted = J.item_edit(J.special_r06(minutes(90)), "0920900",
                         ("<Status>発表</Status>", "<Status>解除</Status>"))
    assert seq.send(lifted, minutes(90)) == "pending"
    assert "真岡市のレベル５大雨特別警報は、解除されました。" in seq.of("pending")[0]["text"]


# -- drafts -------------------------------------------------------------------------------
def test_a_continuing_update_leaves_the_draft_approvable():
    seq = Seq()
    seq.send(J.storm_approve(T0), T0)
    (draft,) = seq.of("pending")
    for n in (10, 20, 30):
        assert seq.send(J.storm_continued(minutes(n)), minutes(n)) == "logged"
    assert draft["status"] == "pending"
    assert seq.approve(draft["id"], minutes(31))
    assert seq.aired[0]["text"].startswith("午前5時10分、稚内地方気象台の発表です。真岡市に、暴風警報")


def test_a_new_draft_for_the_town_carries_the_unaired_kinds_forward():
    seq = Seq()
    seq.send(J.storm_approve(T0), T0)
    (old,) = seq.of("pending")
    seq.send(J.heavy_rain_r06(3, minutes(5)), minutes(5))
    (new,) = seq.of("pending")
    assert old["status"] == "expired" and new["id"] != old["id"]
    assert "レベル３大雨警報" in new["text"] and "暴風警報" in new["text"]
    assert seq.approve(new["id"], minutes(6))


def test_a_lifting_expires_the_draft_it_contradicts():
    seq = Seq()
    seq.send(J.storm_approve(T0), T0)
    (draft,) = seq.of("pending")
    seq.send(J.storm_lifted(minutes(3)), minutes(3))
    assert draft["status"] == "expired" and not seq.approve(draft["id"], minutes(4))


def test_approval_windows_are_per_category():
    seq = Seq()
    seq.send(J.storm_approve(T0), T0)
    seq.send(J.edit(J.quake_detail(1, T0), ("<MaxInt>5-<", "<MaxInt>4<")), T0)
    storm, quake = sorted(seq.of("pending"), key=lambda i: i["type"])
    seq.tick(minutes(16))
    assert (storm["status"], quake["status"]) == ("pending", "expired")
    seq.tick(minutes(181))
    assert storm["status"] == "expired"


def test_unattended_warning_drafts_air_without_cutting_in():
    seq = Seq(Settings(unattended_minutes=15))
    seq.send(J.storm_approve(T0), T0)
    seq.send(J.edit(J.quake_detail(1, T0), ("<MaxInt>5-<", "<MaxInt>4<")), T0)
    seq.tick(minutes(14))
    assert seq.aired == []
    seq.tick(minutes(15))
    (aired,) = seq.aired
    assert aired["type"] == "VPWW58" and not aired["interrupt"]
    assert aired["status"] == "approved"


# -- 取消, drills, order ------------------------------------------------------------------
def test_a_withdrawal_puts_back_what_was_in_force():
    seq = Seq()
    seq.send(J.storm_approve(T0), T0)
    seq.send(J.withdrawal_of(J.storm_approve(T0), minutes(1)), minutes(1))
    assert seq.of("withdrawn") and seq.state["keys"].get("w|0920900|暴風") is None
    assert seq.send(J.storm_approve(minutes(2)), minutes(2)) == "pending"


def test_a_withdrawal_of_nothing_changes_nothing():
    seq = Seq()
    before = seq.state
    assert seq.send(J.withdrawal_of(J.storm_approve(T0), minutes(1)), minutes(1)) == \
        "ignored: nothing to withdraw"
    assert seq.state == before


def test_drills_change_nothing_and_older_messages_are_ignored():
    seq = Seq()
    seq.send(J.variant(J.landslide_auto(T0), status="訓練"), T0)
    assert seq.state == st.empty() and seq.aired == []
    seq.send(J.storm_approve(minutes(5)), minutes(5))
    assert seq.send(J.storm_lifted(minutes(1)), minutes(6)) == "ignored"
    assert seq.items[max(seq.items)]["reason"] == "発表中の情報より古い電文です"


@pytest.mark.parametrize("name", ["VFVO50", "VPFJ50"])
def test_volcano_and_weather_information_are_drafts(name):
    if name == "VFVO50":
        data = J.edit(J.sample("45_02_01_200522_VFVO50.xml"), ("箱根山", "那須岳"))
    else:
        data = J.edit(J.sample("22_02_02_160628_VPFJ50.xml"), ("福岡管区気象台", "宇都宮地方気象台"))
    seq = Seq()
    assert seq.send(J.at(data, T0), T0) == "pending"
    assert "（" not in seq.of("pending")[0]["text"]


@pytest.mark.parametrize("name", ["66_01_02_210514_VFVO54.xml", "74_01_01_200512_VYSE50.xml",
                                  "32-39_11_02_250206_VTSE41.xml"])
def test_ash_nankai_and_tsunami_are_logged(name):
    data = J.sample(name)
    if "VFVO" in name:
        data = J.edit(data, ("桜島", "那須岳"))
    seq = Seq()
    assert seq.send(J.at(data, T0), T0) == "logged"


def test_river_floods_with_the_2026_names_and_a_downgrade():
    danger = J.edit(J.sample("16_06_01_220728_VXKOii.xml"), ("○○川", "鬼怒川"),
                    ("氾濫危険情報", "レベル４氾濫危険警報"))
    warning = J.edit(J.sample("16_02_01_220728_VXKOii.xml"), ("○○川", "鬼怒川"),
                     ("氾濫警戒情報", "レベル３氾濫警報"))
    seq = Seq()
    assert seq.send(J.at(danger, T0), T0) == "approved"
    assert "鬼怒川上流に、レベル４氾濫危険警報が発表されました。" in seq.cut_ins[0]["text"]
    assert seq.send(J.at(warning, minutes(30)), minutes(30)) == "pending"
    (draft,) = seq.of("pending")
    assert "鬼怒川上流のレベル４氾濫危険警報は、レベル３氾濫警報に切り替えられました。" in draft["text"]
    other = J.at(J.sample("16_02_02_220728_VXKOii.xml"), minutes(31))  # 六角川: not ours
    assert seq.send(other, minutes(31)) == "ignored: 対象地域外"
