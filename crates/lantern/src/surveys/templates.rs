//! Built-in survey templates, written in our own words after the published item banks on
//! police legitimacy and procedural justice (voice, neutrality, respect, trustworthiness),
//! community trust and safety, post-contact satisfaction, and officer wellness and
//! organisational justice. Each item says which score it feeds.

use super::model::{
    Choice, Condition, Definition, Demographic, Kind, Question, QuestionKind, Score, Section, Text,
};

/// The templates a new survey can start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Template {
    CommunityTrust,
    PostContact,
    OfficerCard,
    EmployeeEngagement,
}

impl Template {
    pub const ALL: [Template; 4] = [
        Template::CommunityTrust,
        Template::PostContact,
        Template::OfficerCard,
        Template::EmployeeEngagement,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Template::CommunityTrust => "community_trust",
            Template::PostContact => "post_contact",
            Template::OfficerCard => "officer_card",
            Template::EmployeeEngagement => "employee_engagement",
        }
    }

    pub fn parse(s: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.slug() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Template::CommunityTrust => "Community trust and safety",
            Template::PostContact => "After a contact with an officer",
            Template::OfficerCard => "Officer feedback card",
            Template::EmployeeEngagement => "Employee engagement (anonymous)",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Template::CommunityTrust => {
                "Trust and safety scores, procedural justice (voice, neutrality, respect, trustworthiness), priorities, and demographics for weighting to the census."
            }
            Template::PostContact => {
                "Sent after a call for service or a stop: how the contact went, whether the officer explained and listened, and satisfaction with the outcome."
            }
            Template::OfficerCard => {
                "Five quick 1–5 items on a QR card an officer hands out: explained why, listened, fair, professional, next steps."
            }
            Template::EmployeeEngagement => {
                "Organisational justice, supervisor support, morale, stress, wellness resources and intent to stay. Anonymous by construction."
            }
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Template::CommunityTrust => Kind::Community,
            Template::PostContact => Kind::PostContact,
            Template::OfficerCard => Kind::OfficerCard,
            Template::EmployeeEngagement => Kind::Employee,
        }
    }

    pub fn definition(self) -> Definition {
        match self {
            Template::CommunityTrust => community_trust(),
            Template::PostContact => post_contact(),
            Template::OfficerCard => officer_card(),
            Template::EmployeeEngagement => employee_engagement(),
        }
    }
}

fn rating(key: &str, en: &str, es: &str, low: (&str, &str), high: (&str, &str)) -> Question {
    Question::new(
        key,
        QuestionKind::Rating {
            min: 0,
            max: 10,
            low: Text::new(low.0, low.1),
            high: Text::new(high.0, high.1),
        },
        en,
        es,
    )
}

fn card_item(key: &str, en: &str, es: &str) -> Question {
    Question::new(
        key,
        QuestionKind::Rating {
            min: 1,
            max: 5,
            low: Text::new("Not at all", "Nada"),
            high: Text::new("Completely", "Totalmente"),
        },
        en,
        es,
    )
    .score(Score::Card)
}

fn agree(key: &str, en: &str, es: &str, score: Score) -> Question {
    Question::new(key, QuestionKind::Agreement, en, es).score(score)
}

fn demographic(field: Demographic, en: &str, es: &str) -> Question {
    Question::new(
        key_of(field),
        QuestionKind::Demographic {
            field,
            choices: Vec::new(),
        },
        en,
        es,
    )
}

fn key_of(field: Demographic) -> &'static str {
    field.as_str()
}

fn comments(key: &str, en: &str, es: &str) -> Question {
    Question::new(key, QuestionKind::Text { long: true }, en, es).hint(
        "Please do not include names, addresses or phone numbers.",
        "Por favor, no incluya nombres, direcciones ni números de teléfono.",
    )
}

/// The demographics block most surveys end with.
pub fn demographics_section() -> Section {
    Section {
        key: "about_you".into(),
        title: Text::new("About you", "Sobre usted"),
        questions: vec![
            Question::new(
                "about_you_note",
                QuestionKind::Note,
                "These questions are optional. They let us check that we hear from every part of the community.",
                "Estas preguntas son opcionales. Nos permiten comprobar que escuchamos a toda la comunidad.",
            ),
            demographic(
                Demographic::AgeGroup,
                "How old are you?",
                "¿Cuántos años tiene?",
            ),
            demographic(
                Demographic::Gender,
                "What is your gender?",
                "¿Cuál es su género?",
            ),
            demographic(
                Demographic::Race,
                "What is your race or ethnicity?",
                "¿Cuál es su raza u origen étnico?",
            ),
            demographic(
                Demographic::District,
                "Which district do you live in?",
                "¿En qué distrito vive?",
            ),
            demographic(
                Demographic::Language,
                "Which language do you prefer?",
                "¿Qué idioma prefiere?",
            ),
        ],
    }
}

/// The fixed choices of a demographic question (district choices come from the agency).
pub fn demographic_choices(field: Demographic) -> Vec<Choice> {
    let prefer = Choice::new("prefer_not", "Prefer not to say", "Prefiero no decirlo");
    let mut choices = match field {
        Demographic::AgeGroup => vec![
            Choice::new("18-24", "18 to 24", "18 a 24"),
            Choice::new("25-34", "25 to 34", "25 a 34"),
            Choice::new("35-44", "35 to 44", "35 a 44"),
            Choice::new("45-54", "45 to 54", "45 a 54"),
            Choice::new("55-64", "55 to 64", "55 a 64"),
            Choice::new("65+", "65 or older", "65 o más"),
        ],
        Demographic::Gender => vec![
            Choice::new("female", "Woman", "Mujer"),
            Choice::new("male", "Man", "Hombre"),
            Choice::new("another", "Another gender", "Otro género"),
        ],
        Demographic::Race => vec![
            Choice::new("white", "White", "Blanca"),
            Choice::new(
                "black",
                "Black or African American",
                "Negra o afroamericana",
            ),
            Choice::new("hispanic", "Hispanic or Latino", "Hispana o latina"),
            Choice::new(
                "asian/pacific islander",
                "Asian or Pacific Islander",
                "Asiática o de las islas del Pacífico",
            ),
            Choice::new("other", "Another race or several", "Otra raza o varias"),
        ],
        Demographic::District => Vec::new(),
        Demographic::Language => vec![
            Choice::new("en", "English", "Inglés"),
            Choice::new("es", "Spanish", "Español"),
            Choice::new("other", "Another language", "Otro idioma"),
        ],
    };
    choices.push(prefer);
    choices
}

fn community_trust() -> Definition {
    let a = ("Not at all", "Nada");
    let z = ("Completely", "Totalmente");
    Definition {
        title: Text::new("How are we doing? Community survey", "¿Cómo lo estamos haciendo? Encuesta comunitaria"),
        intro: Text::new(
            "Tell us what you think of policing in your neighbourhood. It takes about five minutes. Your answers are anonymous: we do not ask for your name.",
            "Díganos qué piensa de la policía en su vecindario. Toma unos cinco minutos. Sus respuestas son anónimas: no le pedimos su nombre.",
        ),
        thanks: Text::new(
            "Thank you. Your answers help us see where we are earning trust and where we are not.",
            "Gracias. Sus respuestas nos ayudan a ver dónde nos estamos ganando la confianza y dónde no.",
        ),
        sections: vec![
            Section {
                key: "trust".into(),
                title: Text::new("Trust", "Confianza"),
                questions: vec![
                    rating("trust_respect", "How much do police in your neighbourhood treat people with respect?", "¿Cuánto trata la policía de su vecindario a las personas con respeto?", a, z)
                        .required()
                        .score(Score::Trust),
                    rating("trust_listen", "How much do police in your neighbourhood listen to residents' concerns?", "¿Cuánto escucha la policía de su vecindario las preocupaciones de los residentes?", a, z)
                        .required()
                        .score(Score::Trust),
                    rating("safety_night", "How safe do you feel walking alone in your neighbourhood after dark?", "¿Qué tan seguro se siente caminando solo por su vecindario de noche?", ("Very unsafe", "Muy inseguro"), ("Very safe", "Muy seguro"))
                        .score(Score::Safety),
                    rating("safety_day", "How safe do you feel in your neighbourhood during the day?", "¿Qué tan seguro se siente en su vecindario durante el día?", ("Very unsafe", "Muy inseguro"), ("Very safe", "Muy seguro"))
                        .score(Score::Safety),
                ],
            },
            Section {
                key: "fairness".into(),
                title: Text::new("Fair treatment", "Trato justo"),
                questions: vec![
                    agree("pj_voice", "Police give people a chance to explain their side before deciding what to do.", "La policía da a las personas la oportunidad de explicar su versión antes de decidir qué hacer.", Score::Voice),
                    agree("pj_neutral", "Police make decisions based on facts, not on who a person is.", "La policía toma decisiones basadas en hechos, no en quién es la persona.", Score::Neutrality),
                    agree("pj_respect", "Police treat people with dignity, whatever their background.", "La policía trata a las personas con dignidad, sin importar su origen.", Score::Respect),
                    agree("pj_trustworthy", "Police in this city try to do what is right for the community.", "La policía de esta ciudad trata de hacer lo correcto por la comunidad.", Score::Trustworthiness),
                ],
            },
            Section {
                key: "experience".into(),
                title: Text::new("Your experience", "Su experiencia"),
                questions: vec![
                    Question::new(
                        "contact_12m",
                        QuestionKind::SingleChoice {
                            choices: vec![Choice::new("yes", "Yes", "Sí"), Choice::new("no", "No", "No")],
                        },
                        "Have you had contact with our officers in the past 12 months?",
                        "¿Ha tenido contacto con nuestros agentes en los últimos 12 meses?",
                    ),
                    Question::new(
                        "contact_kind",
                        QuestionKind::MultipleChoice {
                            choices: vec![
                                Choice::new("called", "I called for help", "Llamé pidiendo ayuda"),
                                Choice::new("stopped", "I was stopped on foot or in a vehicle", "Me detuvieron a pie o en un vehículo"),
                                Choice::new("victim", "I reported a crime", "Denuncié un delito"),
                                Choice::new("event", "A community meeting or event", "Una reunión o evento comunitario"),
                                Choice::new("other", "Something else", "Otra cosa"),
                            ],
                        },
                        "What kind of contact? Choose all that apply.",
                        "¿Qué tipo de contacto? Elija todas las que correspondan.",
                    )
                    .show_if(Condition::Equals { question: "contact_12m".into(), value: "yes".into() }),
                    rating("contact_rating", "Overall, how satisfied were you with how officers handled it?", "En general, ¿qué tan satisfecho quedó con la forma en que los agentes lo manejaron?", ("Very dissatisfied", "Muy insatisfecho"), ("Very satisfied", "Muy satisfecho"))
                        .show_if(Condition::Equals { question: "contact_12m".into(), value: "yes".into() }),
                    Question::new(
                        "priority",
                        QuestionKind::SingleChoice {
                            choices: vec![
                                Choice::new("violence", "Violent crime", "Delitos violentos"),
                                Choice::new("property", "Break-ins and theft", "Robos y hurtos"),
                                Choice::new("traffic", "Traffic safety", "Seguridad vial"),
                                Choice::new("drugs", "Drug dealing", "Venta de drogas"),
                                Choice::new("youth", "Programs for young people", "Programas para jóvenes"),
                                Choice::new("mental_health", "Mental health crises", "Crisis de salud mental"),
                            ],
                        },
                        "What should we focus on most in your neighbourhood?",
                        "¿En qué deberíamos enfocarnos más en su vecindario?",
                    ),
                    comments("comments", "Is there anything else you want us to know?", "¿Hay algo más que quiera que sepamos?"),
                ],
            },
            demographics_section(),
        ],
    }
}

fn post_contact() -> Definition {
    let a = ("Not at all", "Nada");
    let z = ("Completely", "Totalmente");
    Definition {
        title: Text::new("How did we do?", "¿Cómo lo hicimos?"),
        intro: Text::new(
            "You recently had contact with one of our officers. Please tell us how it went. It takes two minutes and is anonymous.",
            "Hace poco tuvo contacto con uno de nuestros agentes. Por favor, díganos cómo fue. Toma dos minutos y es anónimo.",
        ),
        thanks: Text::new("Thank you for helping us improve.", "Gracias por ayudarnos a mejorar."),
        sections: vec![
            Section {
                key: "contact".into(),
                title: Text::new("Your contact", "Su contacto"),
                questions: vec![
                    rating("overall", "Overall, how satisfied are you with how the officer handled your situation?", "En general, ¿qué tan satisfecho está con la forma en que el agente manejó su situación?", ("Very dissatisfied", "Muy insatisfecho"), ("Very satisfied", "Muy satisfecho"))
                        .required(),
                    agree("pc_explained", "The officer explained what they were doing and why.", "El agente explicó lo que estaba haciendo y por qué.", Score::Trustworthiness),
                    agree("pc_listened", "The officer listened to what I had to say.", "El agente escuchó lo que yo tenía que decir.", Score::Voice),
                    agree("pc_fair", "The officer treated me fairly.", "El agente me trató de manera justa.", Score::Neutrality),
                    agree("pc_respect", "The officer treated me with respect.", "El agente me trató con respeto.", Score::Respect),
                    rating("outcome", "How satisfied are you with the outcome?", "¿Qué tan satisfecho está con el resultado?", a, z),
                    comments("comments", "What could the officer or the department have done better?", "¿Qué podría haber hecho mejor el agente o el departamento?"),
                ],
            },
            Section {
                key: "about_you".into(),
                title: Text::new("About you", "Sobre usted"),
                questions: vec![
                    demographic(Demographic::AgeGroup, "How old are you?", "¿Cuántos años tiene?"),
                    demographic(Demographic::Gender, "What is your gender?", "¿Cuál es su género?"),
                    demographic(Demographic::Race, "What is your race or ethnicity?", "¿Cuál es su raza u origen étnico?"),
                ],
            },
        ],
    }
}

fn officer_card() -> Definition {
    Definition {
        title: Text::new("Tell us about this officer", "Cuéntenos sobre este agente"),
        intro: Text::new(
            "Five quick questions about the officer who gave you this card. Anonymous.",
            "Cinco preguntas rápidas sobre el agente que le dio esta tarjeta. Anónimo.",
        ),
        thanks: Text::new(
            "Thank you. The officer's supervisor sees a summary of all answers, never yours alone.",
            "Gracias. El supervisor del agente ve un resumen de todas las respuestas, nunca la suya sola.",
        ),
        sections: vec![Section {
            key: "card".into(),
            title: Text::new("The officer", "El agente"),
            questions: vec![
                card_item(
                    "card_explained",
                    "Explained why they were there and what would happen",
                    "Explicó por qué estaba allí y qué iba a pasar",
                )
                .required(),
                card_item("card_listened", "Listened to you", "Le escuchó").required(),
                card_item(
                    "card_fair",
                    "Treated you fairly",
                    "Le trató de manera justa",
                )
                .required(),
                card_item(
                    "card_professional",
                    "Was professional and courteous",
                    "Fue profesional y cortés",
                )
                .required(),
                card_item(
                    "card_next_steps",
                    "Told you what happens next",
                    "Le dijo qué pasa después",
                )
                .required(),
                comments("comments", "Anything else?", "¿Algo más?"),
            ],
        }],
    }
}

fn employee_engagement() -> Definition {
    Definition {
        title: Text::new(
            "Staff engagement survey",
            "Encuesta de compromiso del personal",
        ),
        intro: Text::new(
            "This survey is anonymous by design: the list of who responded is kept apart from the answers, times are kept only to the day, and any group smaller than five is never shown.",
            "Esta encuesta es anónima por diseño: la lista de quién respondió se guarda aparte de las respuestas, las fechas se guardan solo por día y nunca se muestra un grupo de menos de cinco personas.",
        ),
        thanks: Text::new(
            "Thank you. Results are shared with all staff.",
            "Gracias. Los resultados se comparten con todo el personal.",
        ),
        sections: vec![
            Section {
                key: "fairness".into(),
                title: Text::new("Fairness at work", "Justicia en el trabajo"),
                questions: vec![
                    agree(
                        "oj_decisions",
                        "Decisions about assignments and promotions here are made fairly.",
                        "Las decisiones sobre asignaciones y ascensos se toman de manera justa.",
                        Score::OrganisationalJustice,
                    ),
                    agree(
                        "oj_discipline",
                        "Discipline is applied consistently, whoever is involved.",
                        "La disciplina se aplica de manera coherente, sin importar de quién se trate.",
                        Score::OrganisationalJustice,
                    ),
                    agree(
                        "oj_voice",
                        "Command staff listen to the concerns of people at my level.",
                        "Los mandos escuchan las preocupaciones de las personas de mi nivel.",
                        Score::OrganisationalJustice,
                    ),
                    agree(
                        "sup_support",
                        "My supervisor supports me when I make a reasonable decision.",
                        "Mi supervisor me apoya cuando tomo una decisión razonable.",
                        Score::SupervisorSupport,
                    ),
                    agree(
                        "sup_feedback",
                        "My supervisor gives me useful feedback.",
                        "Mi supervisor me da comentarios útiles.",
                        Score::SupervisorSupport,
                    ),
                ],
            },
            Section {
                key: "wellbeing".into(),
                title: Text::new("Morale and wellbeing", "Moral y bienestar"),
                questions: vec![
                    agree(
                        "morale_proud",
                        "I am proud to work for this agency.",
                        "Me enorgullece trabajar para esta agencia.",
                        Score::Morale,
                    ),
                    agree(
                        "morale_recommend",
                        "I would recommend this agency to a friend as a place to work.",
                        "Recomendaría esta agencia a un amigo como lugar de trabajo.",
                        Score::Morale,
                    ),
                    Question::new(
                        "stress",
                        QuestionKind::SingleChoice {
                            choices: vec![
                                Choice::new("rarely", "Rarely or never", "Rara vez o nunca"),
                                Choice::new("sometimes", "Sometimes", "A veces"),
                                Choice::new("often", "Often", "A menudo"),
                                Choice::new("always", "Almost always", "Casi siempre"),
                            ],
                        },
                        "In the past month, how often has work stress affected your life outside work?",
                        "En el último mes, ¿con qué frecuencia el estrés laboral afectó su vida fuera del trabajo?",
                    ),
                    agree(
                        "wellness_know",
                        "I know how to reach the agency's wellness and peer-support resources.",
                        "Sé cómo acceder a los recursos de bienestar y apoyo entre compañeros de la agencia.",
                        Score::Wellness,
                    ),
                    agree(
                        "wellness_use",
                        "I would feel comfortable using them without it hurting my career.",
                        "Me sentiría cómodo usándolos sin que perjudique mi carrera.",
                        Score::Wellness,
                    ),
                    Question::new(
                        "intent_stay",
                        QuestionKind::SingleChoice {
                            choices: vec![
                                Choice::new(
                                    "stay",
                                    "I plan to stay more than two years",
                                    "Planeo quedarme más de dos años",
                                ),
                                Choice::new("unsure", "I am not sure", "No estoy seguro"),
                                Choice::new(
                                    "leave",
                                    "I plan to leave within two years",
                                    "Planeo irme en menos de dos años",
                                ),
                            ],
                        },
                        "How long do you plan to stay with the agency?",
                        "¿Cuánto tiempo planea quedarse en la agencia?",
                    ),
                    comments(
                        "comments",
                        "What one change would most improve your work here?",
                        "¿Qué cambio mejoraría más su trabajo aquí?",
                    ),
                ],
            },
            Section {
                key: "about_you".into(),
                title: Text::new("About your work", "Sobre su trabajo"),
                questions: vec![
                    Question::new(
                        "assignment",
                        QuestionKind::SingleChoice {
                            choices: vec![
                                Choice::new("patrol", "Patrol", "Patrullaje"),
                                Choice::new("investigations", "Investigations", "Investigaciones"),
                                Choice::new(
                                    "support",
                                    "Support or civilian staff",
                                    "Apoyo o personal civil",
                                ),
                                Choice::new("command", "Command staff", "Mandos"),
                            ],
                        },
                        "Where do you work?",
                        "¿Dónde trabaja?",
                    ),
                    Question::new(
                        "tenure",
                        QuestionKind::SingleChoice {
                            choices: vec![
                                Choice::new("0-4", "Less than 5 years", "Menos de 5 años"),
                                Choice::new("5-14", "5 to 14 years", "De 5 a 14 años"),
                                Choice::new("15+", "15 years or more", "15 años o más"),
                            ],
                        },
                        "How long have you worked here?",
                        "¿Cuánto tiempo lleva trabajando aquí?",
                    ),
                ],
            },
        ],
    }
}

/// Fills in the choices of demographic questions (districts from the agency) so the version
/// that is published is complete and frozen.
pub fn resolve_demographics(def: &mut Definition, districts: &[(String, String)]) {
    for q in def.sections.iter_mut().flat_map(|s| s.questions.iter_mut()) {
        if let QuestionKind::Demographic { field, choices } = &mut q.kind {
            *choices = match field {
                Demographic::District => {
                    let mut c: Vec<Choice> = districts
                        .iter()
                        .map(|(code, name)| Choice::new(code, name, name))
                        .collect();
                    c.push(Choice::new(
                        "outside",
                        "I do not live in the city",
                        "No vivo en la ciudad",
                    ));
                    c.push(Choice::new(
                        "prefer_not",
                        "Prefer not to say",
                        "Prefiero no decirlo",
                    ));
                    c
                }
                other => demographic_choices(*other),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_a_valid_survey_in_both_languages() {
        for t in Template::ALL {
            let mut d = t.definition();
            resolve_demographics(&mut d, &[("D1".into(), "Northside".into())]);
            d.validate()
                .unwrap_or_else(|e| panic!("{}: {e:?}", t.slug()));
            for q in d.questions() {
                assert!(
                    !q.label.es.is_empty(),
                    "{}: {} has no Spanish",
                    t.slug(),
                    q.key
                );
                for c in q.kind.choices() {
                    assert!(
                        !c.label.es.is_empty(),
                        "{}: a choice of {} has no Spanish",
                        t.slug(),
                        q.key
                    );
                }
            }
            assert!(!d.title.es.is_empty() && !d.intro.es.is_empty() && !d.thanks.es.is_empty());
        }
    }

    #[test]
    fn the_community_template_feeds_every_score_it_promises() {
        let d = Template::CommunityTrust.definition();
        let scores: Vec<Score> = d.questions().filter_map(|q| q.score).collect();
        for s in [
            Score::Trust,
            Score::Safety,
            Score::Voice,
            Score::Neutrality,
            Score::Respect,
            Score::Trustworthiness,
        ] {
            assert!(scores.contains(&s), "{s:?}");
        }
        let trust: Vec<&str> = d
            .questions()
            .filter(|q| q.score == Some(Score::Trust))
            .map(|q| q.key.as_str())
            .collect();
        assert_eq!(trust, ["trust_respect", "trust_listen"]);
    }

    #[test]
    fn the_card_has_five_quick_items() {
        let d = Template::OfficerCard.definition();
        let items: Vec<&Question> = d
            .questions()
            .filter(|q| q.score == Some(Score::Card))
            .collect();
        assert_eq!(items.len(), 5);
        assert!(
            items
                .iter()
                .all(|q| matches!(q.kind, QuestionKind::Rating { min: 1, max: 5, .. }))
        );
    }

    #[test]
    fn districts_come_from_the_agency() {
        let mut d = Template::CommunityTrust.definition();
        resolve_demographics(
            &mut d,
            &[
                ("D1".into(), "Northside".into()),
                ("D2".into(), "Riverside".into()),
            ],
        );
        let values: Vec<String> = d
            .demographic(Demographic::District)
            .unwrap()
            .kind
            .choices()
            .into_iter()
            .map(|c| c.value)
            .collect();
        assert_eq!(values, ["D1", "D2", "outside", "prefer_not"]);
    }
}
