"""Writes the XLSForm workbooks Lantern's own import tests use (run once; the .xlsx files are
committed). Needs openpyxl. The forms use every supported feature, in English and Spanish."""
from openpyxl import Workbook

def book(path, survey, choices, settings):
    wb = Workbook()
    ws = wb.active
    ws.title = "survey"
    for row in survey:
        ws.append(row)
    c = wb.create_sheet("choices")
    for row in choices:
        c.append(row)
    s = wb.create_sheet("settings")
    for row in settings:
        s.append(row)
    wb.save(path)

book(
    "lantern_bilingual.xlsx",
    [
        ["type", "name", "label::English (en)", "label::Spanish (es)", "hint::English (en)", "hint::Spanish (es)", "required", "relevant", "constraint", "appearance"],
        ["start", "start", "", "", "", "", "", "", "", ""],
        ["note", "intro", "A short survey about your neighbourhood.", "Una breve encuesta sobre su vecindario.", "", "", "", "", "", ""],
        ["select_one yes_no", "Felt_Safe", "Do you feel safe at night?", "¿Se siente seguro de noche?", "", "", "yes", "", "", "minimal"],
        ["select_multiple worries", "worries", "What worries you?", "¿Qué le preocupa?", "Choose all that apply", "Elija todas las que correspondan", "", "${Felt_Safe} = 'no'", "", ""],
        ["text", "worry_other", "Tell us more", "Cuéntenos más", "", "", "", "selected(${worries}, 'other') or selected(${worries}, 'traffic')", "", ""],
        ["begin group", "about", "About you", "Sobre usted", "", "", "", "", "", ""],
        ["integer", "age", "How old are you?", "¿Cuántos años tiene?", "", "", "true()", "", ". >= 18 and . <= 110", ""],
        ["decimal", "years_here", "Years lived here", "Años viviendo aquí", "", "", "", "", ". >= 0", ""],
        ["date", "moved_in", "When did you move in?", "¿Cuándo se mudó?", "", "", "", "${Felt_Safe}='yes' and ${age} = '40'", "", ""],
        ["end group", "", "", "", "", "", "", "", "", ""],
    ],
    [
        ["list_name", "name", "label::English (en)", "label::Spanish (es)"],
        ["yes_no", "yes", "Yes", "Sí"],
        ["yes_no", "no", "No", "No"],
        ["worries", "theft", "Theft", "Robos"],
        ["worries", "traffic", "Traffic", "Tráfico"],
        ["worries", "other", "Something else", "Otra cosa"],
    ],
    [["form_title", "form_id", "default_language"], ["Neighbourhood safety", "safety_2026", "English (en)"]],
)

book(
    "lantern_unsupported.xlsx",
    [
        ["type", "name", "label"],
        ["text", "name", "Your name"],
        ["geopoint", "where", "Where are you?"],
        ["integer", "age", "Age"],
        ["calculate", "double", ""],
    ],
    [["list_name", "name", "label"]],
    [["form_title"], ["Has unsupported parts"]],
)
