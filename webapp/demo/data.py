"""Word lists for the demo: villages, names, positions, activity kinds, programmes, summaries.

Plausible for a mountain province of the north (Tuyên Quang, Hà Giang): Tày, Dao and Kinh
village and family names. Nothing here refers to real people.
"""

from __future__ import annotations

from typing import NamedTuple


class KindSpec(NamedTuple):
    code: str
    name_vi: str
    name_en: str
    weight: int
    # (min, max) people and households reached by one such activity
    people: tuple[int, int]
    households: tuple[int, int]
    # the programme most such activities belong to, if any
    program: str | None


class ProgramSpec(NamedTuple):
    code: str
    name_vi: str
    name_en: str


# fmt: off
KINDS: tuple[KindSpec, ...] = (
    KindSpec("home_visit", "Thăm hộ gia đình", "Home visit", 30, (2, 12), (1, 4), None),
    KindSpec("community_work", "Lao động công ích", "Community work", 15, (10, 80), (5, 40),
             "nong_thon_moi"),
    KindSpec("dialogue", "Đối thoại với Nhân dân", "Dialogue with the people", 8, (15, 120),
             (10, 60), None),
    KindSpec("propaganda", "Tuyên truyền, vận động", "Propaganda and persuasion", 20, (10, 100),
             (5, 50), None),
    KindSpec("house_building", "Giúp xóa nhà tạm", "Help replace a makeshift house", 8, (3, 8),
             (1, 1), "xoa_nha_tam"),
    KindSpec("clean_up", "Vệ sinh môi trường", "Clean-up drive", 12, (10, 60), (5, 30),
             "chong_rac_thai_nhua"),
    KindSpec("supervision", "Giám sát, phản biện", "Supervision", 7, (0, 20), (0, 10), None),
)

# fmt: on

PROGRAMS: tuple[ProgramSpec, ...] = (
    ProgramSpec(
        "xoa_nha_tam", "Xóa nhà tạm, nhà dột nát", "Replacing makeshift and dilapidated houses"
    ),
    ProgramSpec("chong_rac_thai_nhua", "Chống rác thải nhựa", "Fighting plastic waste"),
    ProgramSpec("nong_thon_moi", "Xây dựng nông thôn mới", "Building new countryside"),
)

# "{place}" is where the cell is, as written inside a sentence: "thôn Nà Va", "tổ dân phố số 3".
SUMMARIES: dict[str, tuple[str, ...]] = {
    "home_visit": (
        "Thăm hỏi, động viên hộ gia đình có hoàn cảnh khó khăn ở {place}",
        "Thăm hộ có người ốm đau, nắm tình hình đời sống, sản xuất ở {place}",
        "Thăm hộ nghèo, hướng dẫn thủ tục vay vốn ưu đãi tại {place}",
        "Thăm hộ gia đình chính sách nhân dịp ngày lễ ở {place}",
        "Thăm, nắm tâm tư nguyện vọng của bà con {place}",
    ),
    "community_work": (
        "Ra quân làm đường bê tông ở {place}",
        "Nạo vét kênh mương, khơi thông cống rãnh ở {place}",
        "Phát quang đường liên thôn qua {place}",
        "Tu sửa nhà văn hóa {place}",
        "Trồng cây xanh dọc đường vào {place}",
    ),
    "dialogue": (
        "Đối thoại với Nhân dân {place} về giải phóng mặt bằng làm đường",
        "Đối thoại với bà con {place} về chuyển đổi cơ cấu cây trồng",
        "Đối thoại về chính sách hỗ trợ hộ nghèo, cận nghèo ở {place}",
        "Tiếp xúc, lắng nghe ý kiến của bà con {place} về quy hoạch đất rừng",
    ),
    "propaganda": (
        "Tuyên truyền phòng, chống tảo hôn và hôn nhân cận huyết thống ở {place}",
        "Vận động bà con {place} tham gia bảo hiểm y tế",
        "Tuyên truyền phòng cháy, chữa cháy rừng mùa khô ở {place}",
        "Vận động bà con {place} hiến đất làm đường",
        "Tuyên truyền phòng, chống ma túy và tội phạm tại {place}",
        "Vận động con em {place} đến trường đúng độ tuổi",
    ),
    "house_building": (
        "Giúp hộ gia đình tháo dỡ nhà tạm, vận chuyển vật liệu ở {place}",
        "Góp ngày công dựng nhà mới cho hộ nghèo {place}",
        "Hỗ trợ san nền, đổ móng nhà cho hộ khó khăn ở {place}",
    ),
    "clean_up": (
        "Tổng vệ sinh môi trường, thu gom rác thải nhựa dọc đường {place}",
        "Ra quân dọn vệ sinh bờ suối, đường làng ở {place}",
        "Hướng dẫn bà con {place} phân loại rác tại nguồn",
    ),
    "supervision": (
        "Giám sát việc bình xét hộ nghèo ở {place}",
        "Giám sát thi công công trình nông thôn mới tại {place}",
        "Giám sát việc chi trả trợ cấp cho người có công ở {place}",
    ),
}

NOTES: tuple[str, ...] = (
    "Bà con đồng tình, hưởng ứng.",
    "Đề nghị xã hỗ trợ thêm xi măng.",
    "Một số hộ còn băn khoăn, cần tiếp tục vận động.",
    "Đã báo cáo Ban Chi ủy.",
    "Hẹn kiểm tra lại vào tháng sau.",
)

REVIEW_NOTES: tuple[str, ...] = (
    "Bổ sung ảnh minh chứng.",
    "Ghi rõ số hộ gia đình được thăm.",
    "Ghi lại ngày thực hiện cho đúng.",
    "Bổ sung danh sách đảng viên tham gia.",
    "Nội dung chưa rõ, đề nghị ghi cụ thể kết quả.",
)

# Village (thôn, bản) names as they follow "thôn" in a cell's name.
# fmt: off
VILLAGES: tuple[str, ...] = (
    "Nà Va", "Bản Khiển", "Khuôn Hà", "Đồng Mới", "Nà Khà", "Bản Tháng", "Nà Thôm",
    "Khau Quang", "Nà Ta", "Nà Bó", "Bản Bó", "Nặm Đíp", "Tiên Tốc", "Pác Khoang", "Phai Tre",
    "Nà Mỵ", "Bản Chẳng", "Khuổi Củng", "Nà Lòa", "Nà Chang", "Bản Pước", "Nà Héc",
    "Khuổi Hoa", "Làng Chẵng", "Nà Kẹm", "Bản Dạ", "Nà Luông", "Nà Đông", "Bản Ba",
    "Khuôn Khiếu", "Tân Lập", "Đồng Tâm", "Hợp Thành", "Cốc Phát", "Nà Pồng", "Bản Phiêng",
    "Khuổi Vài", "Nà Nghè", "Làng Ẻn", "Bản Lình", "Nà Hu", "Pắc Củng", "Nà Giàng",
    "Làng Chùa", "Đồng Vàng", "Bản Pài", "Nà Tè", "Khun Mạ", "Phiêng Luông", "Nà Kiếm",
)

FAMILY_NAMES: tuple[str, ...] = (
    "Nguyễn", "Nguyễn", "Trần", "Lê", "Hoàng", "Hoàng", "Ma", "Ma", "Quan", "Triệu",
    "Chẩu", "Hà", "Nông", "Nông", "Lý", "Bàn", "Đặng", "Phạm", "Vi", "Lương", "Mạc", "Âu",
)

MIDDLE_NAMES: dict[str, tuple[str, ...]] = {
    "m": ("Văn", "Văn", "Văn", "Đức", "Minh", "Xuân", "Quang", "Ngọc", "Hữu", "Tiến"),
    "f": ("Thị", "Thị", "Thị", "Thị Thu", "Thị Hồng", "Thị Thanh", "Thị Ngọc", "Thị Kim"),
}

GIVEN_NAMES: dict[str, tuple[str, ...]] = {
    "m": ("An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Khánh", "Long", "Minh", "Nam",
          "Phong", "Quân", "Sơn", "Thắng", "Tuấn", "Việt", "Hưng", "Lâm", "Toàn", "Trung",
          "Chiến", "Đạt", "Hòa", "Kiên", "Lợi", "Thành", "Tiến", "Vinh"),
    "f": ("Hoa", "Lan", "Hương", "Mai", "Ngọc", "Thảo", "Trang", "Yến", "Nhung", "Hằng",
          "Huyền", "Liên", "Phương", "Dung", "Vân", "Thủy", "Hạnh", "Loan", "Nga", "Tuyết"),
}

# (position, "m"/"f" if usually held by a man/woman here, None for either)
LEADING_POSITIONS: tuple[tuple[str, str | None], ...] = (
    ("Bí thư chi bộ", None),
    ("Phó Bí thư chi bộ", None),
    ("Trưởng thôn", "m"),
    ("Chi hội trưởng Hội Phụ nữ", "f"),
    ("Bí thư Chi đoàn", None),
    ("Chi hội trưởng Hội Nông dân", "m"),
    ("Chi hội trưởng Hội Cựu chiến binh", "m"),
)
# fmt: on

# Cells of wards (phường) are per residential group, not per village.
WARD_PLACE = "tổ dân phố số {n}"
VILLAGE_PLACE = "thôn {village}"

# People behind the demo's staff accounts (the cadre's name comes from the roster).
STAFF_NAMES = {"secretary": "Hoàng Văn Thắng", "staff": "Ma Thị Hương", "admin": "Nông Đức Minh"}

RANK_AND_FILE = "Đảng viên"
ASSOCIATION_MEMBER = "Hội viên"
